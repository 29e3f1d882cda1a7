"""Make ``docs/images/report.png``: the HTML report of the PAN-X quality grid, shot in headless Chromium.

The quality benchmark keeps one summary line per run (``benchmarks/results/quality_runs.jsonl``: scores,
splits and n per language, selection score, steps, revision), not the run directories. This script writes
each line back as a ``results.json`` (the fields the summary lacks, such as per-language source files, are
filled with what ``benchmarks/quality.py`` passes), runs ``xling report --format html --baseline last`` on
them and takes two laptop-sized screenshots in headless Chromium (through selenium): the top of the page
(``report.png``) and the averages with the paired gains (``report-gains.png``).

    python docs/images/report_screenshot.py [--runs benchmarks/results/quality_runs.jsonl] [--task panx]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from xling.reporting.results import LanguageScore, Results, averages, environment  # noqa: E402

DATA = "../shared/data"
TASKS = {
    "panx": ({"name": "panx", "kind": "tagging", "version": "1", "metric": "span_f1", "primary_metric": "f1"},
             f"{DATA}/wikiann"),
    "udpos": ({"name": "udpos", "kind": "tagging", "version": "1", "metric": "upos", "primary_metric": "f1"},
              f"{DATA}/udpos_xtreme"),
}
MODEL = {"name_or_path": "checkpoints/multilingual-e5-small", "type": "bert", "class": "BertModel",
         "num_layers": 12, "hidden_size": 384, "num_parameters": 117_653_760}
ORDER = ["last", "aif2", "aif4", "aif6", "aif8", "aif10", "scalar_mix", "concat8", "aif11", "aif8g4"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def to_results(line: dict, out: Path, position: int = 0) -> Path:
    """One summary line as a run directory with its results.json."""
    task, data_dir = TASKS[line["task"]]
    fusion = line["fusion"]
    config = {"task": line["task"], "model": MODEL["name_or_path"], "fusion": fusion["method"],
              "fusion_layer": fusion.get("layer"), "fusion_options": fusion.get("options", {}),
              "data_dir": data_dir, "train_language": "en", "eval_split": "test", "fallback_split": "dev",
              "max_train_examples": 5000, "max_eval_examples": 500, "max_selection_examples": 1000,
              "epochs": 1.0, "batch_size": 16, "learning_rate": 2e-4, "warmup_ratio": 0.1,
              "freeze_embeddings": True, "seed": line["seed"]}
    languages = {}
    for lang, score in line["languages"].items():
        notes = [f"test-{lang} has no labels; scored on dev"] if score["split"] != "test" else []
        languages[lang] = LanguageScore(score["split"], f"{data_dir}/{score['split']}-{lang}", score["examples"],
                                        score["examples"], {"f1": score["score"]}, score["score"], notes=notes)
    stage = {"task": line["task"], "language": "en", "split": "train", "source": f"{data_dir}/train-en",
             "examples": line["train_examples"], "total_examples": 20000, "steps": line["steps"], "epochs": 1.0,
             "selection": {"split": "dev", "source": f"{data_dir}/dev-en", "examples": 1000,
                           "metric": task["metric"], "best_step": line["steps"], "best_score": line["en_dev"]},
             "history": [], "averaged_checkpoints": None}
    run_dir = out / line["task"] / f"{position}-{line['config']}-s{line['seed']}"
    run_dir.mkdir(parents=True)
    env = environment()
    env["git_revision"] = line["git_revision"]
    env["device"] = "cpu (2 threads)"
    results = Results(task=task, model=MODEL, fusion=fusion, seed=line["seed"], config=config, languages=languages,
                      averages=averages(languages, "en"), stages=[stage], environment=env,
                      timings={"train_seconds": line["train_seconds"], "eval_seconds": line["eval_seconds"]},
                      run_dir=f"benchmarks/out/quality/{line['task']}/{line['config']}-s{line['seed']}")
    return results.save(run_dir)


def screenshots(page: Path, shots: list[tuple[Path, str | None]], width: int, height: int, tmp: Path) -> None:
    """One window-sized screenshot per (file, element id to scroll to; None: the top)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp / 'profile'}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        driver.get(page.as_uri())
        for path, anchor in shots:
            driver.execute_script("const e = arguments[0] && document.getElementById(arguments[0]);"
                                  "e ? e.scrollIntoView() : window.scrollTo(0, 0)", anchor)
            driver.save_screenshot(str(path))
            print(path)
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=ROOT / "benchmarks/results/quality_runs.jsonl", type=Path)
    parser.add_argument("--task", default="panx", choices=sorted(TASKS))
    parser.add_argument("--output", default=ROOT / "docs/images/report.png", type=Path)
    parser.add_argument("--html", type=Path, help="also keep the page here")
    parser.add_argument("--size", default="1366,900", help="window width,height in CSS pixels")
    args = parser.parse_args()
    if not shutil.which("chromedriver"):
        sys.exit("needs Chromium and its driver: apt-get install -y chromium chromium-driver; pip install selenium")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for raw in args.runs.read_text(encoding="utf-8").splitlines():
            line = json.loads(raw)
            if line["task"] == args.task:  # numbered in the benchmark's column order (last first)
                to_results(line, tmp_path / "runs", ORDER.index(line["config"]))
        page = tmp_path / "report.html"
        subprocess.run([sys.executable, "-m", "xling", "report", str(tmp_path / "runs"), "--format", "html",
                        "--baseline", "last", "--output", str(page)], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        width, height = (int(v) for v in args.size.split(","))
        screenshots(page, [(args.output, None), (args.output.with_name(args.output.stem + "-gains.png"),
                                                 f"task-{args.task}-averages")], width, height, tmp_path)
        if args.html:
            shutil.copy(page, args.html)


if __name__ == "__main__":
    main()
