"""Sweep benchmark: what ``xling sweep`` costs on top of its runs, and the wall time of a grid per backend.

(a) Overhead per run: a sweep of R runs (local backend, one at a time) against bare ``xling train --config``
    runs of the same configs, one after the other: (sweep wall - sum of bare walls) / R, and, from the
    sweep's own event timestamps, (sweep wall - sum of its runs' walls) / R (goal: < 3 s).
(b) Wall time of a 12-run grid (4 fusion configurations x 3 seeds): local backend with 1 and with 2 runs at
    once, and Ray embedded with 2 workers (goal: Ray within 10 % of local with 2); with --gpu also the grid
    one run at a time on the GPU against 4 runs sharing it (``--gpus 0.25``).

    python benchmarks/sweep_bench.py                         # multilingual-e5-small, PAN-X: results/sweep_bench.md
    python benchmarks/sweep_bench.py --scale tiny --runs 4   # the tiny random model: checks the script (minutes)
    python benchmarks/sweep_bench.py --gpu                   # adds the fractional-GPU comparison

Each mode starts from an empty directory under benchmarks/out/sweep_bench/<scale>/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from common import DATA, OUT, RESULTS, ROOT, e5_checkpoint, machine

CONFIGS = {"last": {"fusion": "last"}, "aif4": {"fusion": "aif", "fusion_layer": 4},
           "aif8": {"fusion": "aif", "fusion_layer": 8}, "scalar_mix": {"fusion": "scalar_mix"}}
TINY_CONFIGS = {"last": {"fusion": "last"}, "aif1": {"fusion": "aif", "fusion_layer": 1},  # 3 layers
                "aif2": {"fusion": "aif", "fusion_layer": 2}, "scalar_mix": {"fusion": "scalar_mix"}}
COMMON = {"save_model": False, "save_predictions": False, "oracle_selection": False, "batch_size": 16}


def setup(scale: str, root: Path) -> dict:
    """The base options of every run at this scale."""
    if scale == "tiny":
        sys.path.insert(0, str(ROOT))
        from xling.demo.sample import sample_sentences, write_sample
        from xling.demo.tiny import build_tiny_checkpoint

        data = write_sample(root / "data", seed=0, train_size=120, dev_size=30, test_size=40)
        model = build_tiny_checkpoint(root / "tiny", sample_sentences(0), architecture="bert", layers=3,
                                      hidden=32, vocab_size=800)
        return {"task": "panx", "model": str(model), "data_dir": str(data["panx"]), "languages": ["en", "de", "fr"],
                "max_steps": 8, "learning_rate": 1e-3, **COMMON}
    return {"task": "panx", "model": str(e5_checkpoint()), "data_dir": str(DATA / "wikiann"),
            "languages": ["de", "es", "nl", "pl", "ru"], "max_train_examples": 300, "epochs": 1,
            "max_eval_examples": 100, "max_selection_examples": 100, "learning_rate": 2e-4,
            "freeze_embeddings": True, **COMMON}


def grid(base: dict, runs: int, scale: str) -> dict:
    """About ``runs`` runs: fusion configurations x seeds (12 = 4 x 3, 4 = 2 x 2)."""
    every = TINY_CONFIGS if scale == "tiny" else CONFIGS
    configs = dict(list(every.items())[:4 if runs >= 12 else max(1, runs // 2)])
    return {"name": "sweep-bench", "base": base, "configs": configs,
            "seeds": list(range(1, max(1, runs // len(configs)) + 1))}


def xling(*args: str, log: Path) -> float:
    """Run ``python -m xling ...``; its wall time in seconds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    with open(log, "w") as handle:
        code = subprocess.run([sys.executable, "-m", "xling", *args], env=env, stdout=handle,
                              stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise SystemExit(f"xling {' '.join(args[:2])} failed ({code}); see {log}")
    return time.perf_counter() - start


def run_spans(out: Path) -> list[tuple[float, float]]:
    """Each run's (start, end) inside the sweep, from its events, in start order."""
    spans = []
    for events in sorted(out.glob("*/*/sweep-events.jsonl")):
        lines = [json.loads(line) for line in events.read_text().splitlines()]
        start = next(e["time"] for e in lines if e["event"] == "start")
        end = next(e["time"] for e in reversed(lines) if e["event"] == "end")
        spans.append((start, end))
    return sorted(spans)


def overhead(base: dict, root: Path, runs: int) -> dict:
    spec = root / "overhead.yaml"
    spec.write_text(yaml.safe_dump({"name": "overhead", "base": base, "configs": {"bare": {}},
                                    "seeds": list(range(1, runs + 1))}))
    out = root / "overhead"
    launched = time.time()
    sweep_wall = xling("sweep", str(spec), "--output-dir", str(out), "--jobs", "1", log=root / "overhead.log")
    spans = run_spans(out)
    inside = [end - start for start, end in spans]
    gaps = [b[0] - a[1] for a, b in zip(spans, spans[1:])]
    bare = []
    for i, config in enumerate(sorted(out.glob("*/*/sweep-run.yaml"))):
        options = yaml.safe_load(config.read_text())
        options["output_dir"] = str(root / "bare" / f"run{i}")
        path = root / f"bare{i}.yaml"
        path.write_text(yaml.safe_dump(options))
        bare.append(xling("train", "--config", str(path), log=root / f"bare{i}.log"))
    return {"runs": runs, "sweep_wall_s": sweep_wall, "bare_walls_s": bare, "runs_in_sweep_s": inside,
            "overhead_per_run_s": (sweep_wall - sum(bare)) / runs,
            "overhead_per_run_from_events_s": (sweep_wall - sum(inside)) / runs,
            "startup_s": spans[0][0] - launched, "between_runs_s": gaps,
            "after_last_s": launched + sweep_wall - spans[-1][1]}


def modes(gpu: bool) -> dict[str, list[str]]:
    chosen = {"local, 1 at a time": ["--jobs", "1"], "local, 2 at once": ["--jobs", "2"],
              "ray embedded, 2 workers": ["--backend", "ray", "--jobs", "2"]}
    if gpu:
        chosen.update({"GPU, 1 at a time": ["--jobs", "1", "--gpus", "1"],
                       "GPU, 4 sharing it (ray, gpus 0.25)": ["--backend", "ray", "--jobs", "4", "--gpus", "0.25"]})
    return chosen


def grid_walls(spec: Path, root: Path, gpu: bool) -> dict[str, float]:
    walls = {}
    for i, (mode, flags) in enumerate(modes(gpu).items()):
        walls[mode] = xling("sweep", str(spec), "--output-dir", str(root / f"grid{i}"), *flags,
                            log=root / f"grid{i}.log")
        print(f"{mode}: {walls[mode]:.0f} s", flush=True)
    return walls


def markdown(result: dict) -> str:
    o, walls = result["overhead"], result["grid"]
    first = walls["local, 1 at a time"]
    lines = [f"Sweep benchmark ({result['scale']} model, {result['machine']['cores']} cores, {result['machine']['cpu']}, "
             f"{result['machine']['date']}; `python benchmarks/sweep_bench.py{result['flags']}`).", "",
             f"Overhead per run (goal < 3 s): {o['overhead_per_run_s']:+.1f} s against bare `xling train` runs "
             f"({o['runs']} runs: sweep {o['sweep_wall_s']:.1f} s, bare {sum(o['bare_walls_s']):.1f} s); "
             f"{o['overhead_per_run_from_events_s']:.1f} s from the sweep's own timestamps (its wall time minus "
             f"its runs'): {o['startup_s']:.1f} s from the command to the first run's start (once per sweep), "
             f"{sum(o['between_runs_s']) / max(1, len(o['between_runs_s'])):.2f} s between one run's end and the "
             f"next one's start, {o['after_last_s']:.1f} s after the last (the tables).", "",
             f"| {result['runs']}-run grid | wall time (s) | per run (s) | vs local, 1 at a time |", "|---|---:|---:|---:|"]
    for mode, wall in walls.items():
        lines.append(f"| {mode} | {wall:.0f} | {wall / result['runs']:.1f} | {first / wall:.2f}× |")
    if "ray embedded, 2 workers" in walls:
        ratio = walls["ray embedded, 2 workers"] / walls["local, 2 at once"]
        lines += ["", f"Ray embedded with 2 workers takes {ratio:.2f}× the local backend's time with 2 at once "
                      f"(goal: within 10 %, i.e. ≤ 1.10×)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=("e5", "tiny"), default="e5")
    parser.add_argument("--runs", type=int, default=12, help="runs in the grid (12: 4 configurations x 3 seeds)")
    parser.add_argument("--overhead-runs", type=int, default=3, help="runs of the overhead measurement")
    parser.add_argument("--gpu", action="store_true", help="also the grid on the GPU, alone and 4 sharing it")
    args = parser.parse_args()
    root = OUT / "sweep_bench" / args.scale
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    base = setup(args.scale, root)
    sweep = grid(base, args.runs, args.scale)
    spec = root / "grid.yaml"
    spec.write_text(yaml.safe_dump(sweep))
    result = {"scale": args.scale, "machine": machine(), "runs": len(sweep["seeds"]) * len(sweep["configs"]),
              "flags": "".join(f" {a}" for a in sys.argv[1:]),
              "overhead": overhead(base, root, args.overhead_runs), "grid": grid_walls(spec, root, args.gpu)}
    text = markdown(result)
    target = RESULTS if args.scale == "e5" else root
    (target / "sweep_bench.json").write_text(json.dumps(result, indent=1) + "\n")
    (target / "sweep_bench.md").write_text(text)
    print(text + f"\nwrote {target / 'sweep_bench.md'}")


if __name__ == "__main__":
    main()
