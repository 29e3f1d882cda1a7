"""The command line, through a subprocess: train, resume after a kill, evaluate, report, errors."""

from __future__ import annotations

import json
import shutil
import signal

import pytest

from tests.conftest import FIXTURES, run_cli


def train_args(model, data, out, *extra):
    return ["train", "--task", "panx", "--model", model, "--data-dir", data, "--output-dir", out,
            "--languages", "en,de,fr", "--epochs", "2", "--batch-size", "8", "--learning-rate", "1e-3",
            "--max-seq-length", "48", "--quiet", "--seed", "1", *extra]


@pytest.fixture(scope="module")
def finished_run(tiny_bert, sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "full"
    result = run_cli(*train_args(tiny_bert, sample_dir["panx"], out, "--checkpoint-every", "3"))
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.mark.slow
def test_train_writes_results_schema(finished_run):
    out, result = finished_run
    assert "| language |" in result.stdout and "avg zero-shot" in result.stdout
    data = json.loads((out / "results.json").read_text())
    assert data["schema"] == "xling.results/1"
    assert set(data["languages"]) == {"en", "de", "fr"}
    for lang, entry in data["languages"].items():
        assert entry["split"] == "test" and entry["examples"] == 40 and 0 <= entry["primary"] <= 100
        assert set(entry["metrics"]) == {"f1", "precision", "recall"}
    assert data["averages"]["zero_shot"] == pytest.approx((data["languages"]["de"]["primary"]
                                                           + data["languages"]["fr"]["primary"]) / 2)
    stage = data["stages"][0]
    assert stage["language"] == "en" and stage["steps"] == 30 and len(stage["history"]) == 2
    assert stage["selection"]["best_step"] in (15, 30)
    assert stage["oracle"]["selected_step"] == stage["selection"]["best_step"]
    assert set(stage["oracle"]["languages"]) == {"de", "fr"}
    timings = data["timings"]
    assert timings["train_tokens_per_second"] > 0 and timings["eval_examples_per_second"] > 0
    assert timings["peak_rss_mb"] > 0
    assert data["environment"]["libraries"]["torch"]
    assert data["config"]["fusion"] == "last" and data["config"]["epochs"] == 2
    assert (out / "config.yaml").exists() and (out / "model" / "encoder" / "config.json").exists()
    assert not (out / "checkpoint").exists()
    lines = (out / "predictions" / "de.jsonl").read_text().splitlines()
    assert len(lines) == 40 and {"tokens", "prediction", "gold"} <= set(json.loads(lines[0]))


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(finished_run, tiny_bert, sample_dir, tmp_path):
    full, _ = finished_run
    out = tmp_path / "killed"
    args = train_args(tiny_bert, sample_dir["panx"], out, "--checkpoint-every", "3")
    killed = run_cli(*args, env={"XLING_TEST_KILL_AFTER_STEP": "20"})
    assert killed.returncode == -signal.SIGKILL
    assert (out / "checkpoint").is_dir() and not (out / "results.json").exists()
    refused = run_cli(*args)
    assert refused.returncode == 2 and "unfinished run" in refused.stderr and "--resume" in refused.stderr
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout + resumed.stderr and "at step 18" in resumed.stdout + resumed.stderr
    a = json.loads((full / "results.json").read_text())
    b = json.loads((out / "results.json").read_text())
    assert {k: v["metrics"] for k, v in a["languages"].items()} == {k: v["metrics"] for k, v in b["languages"].items()}
    strip = lambda history: [{k: v for k, v in h.items() if k != "train_loss"} for h in history]  # noqa: E731
    assert strip(a["stages"][0]["history"]) == strip(b["stages"][0]["history"])


@pytest.mark.slow
def test_resume_with_changed_config_is_refused(tiny_bert, sample_dir, tmp_path):
    out = tmp_path / "killed"
    args = train_args(tiny_bert, sample_dir["panx"], out, "--checkpoint-every", "2")
    assert run_cli(*args, env={"XLING_TEST_KILL_AFTER_STEP": "3"}).returncode == -signal.SIGKILL
    changed = run_cli(*args, "--resume", "--learning-rate", "5e-4")
    assert changed.returncode == 2 and "cannot resume" in changed.stderr and "learning_rate" in changed.stderr


@pytest.mark.slow
def test_finished_run_is_not_overwritten(finished_run, tiny_bert, sample_dir):
    out, _ = finished_run
    result = run_cli(*train_args(tiny_bert, sample_dir["panx"], out))
    assert result.returncode == 2 and "already holds a finished run" in result.stderr and "--overwrite" in result.stderr


@pytest.mark.slow
def test_evaluate_saved_run_on_other_languages(finished_run, sample_dir, tmp_path):
    out, _ = finished_run
    result = run_cli("evaluate", "--run", out, "--languages", "es", "--eval-split", "dev",
                     "--output", tmp_path / "eval.json", "--quiet")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "eval.json").read_text())
    assert list(data["languages"]) == ["es"] and data["languages"]["es"]["split"] == "dev"
    assert data["stages"][0]["task"] == "panx"


@pytest.mark.slow
def test_report_mean_and_std_over_seeds(tiny_bert, sample_dir, tmp_path):
    for seed in ("1", "2"):
        result = run_cli("train", "--task", "panx", "--model", tiny_bert, "--data-dir", sample_dir["panx"],
                         "--output-dir", tmp_path / f"s{seed}", "--languages", "de", "--max-steps", "4",
                         "--batch-size", "8", "--seed", seed, "--quiet", "--no-save-model")
        assert result.returncode == 0, result.stderr
    scores = [json.loads((tmp_path / f"s{s}" / "results.json").read_text())["languages"]["de"]["primary"]
              for s in ("1", "2")]
    report = run_cli("report", tmp_path / "s1", tmp_path / "s2", "--digits", "2")
    assert report.returncode == 0, report.stderr
    mean = sum(scores) / 2
    std = abs(scores[0] - scores[1]) / 2 ** 0.5  # sample std of two values
    assert f"| de | {mean:.2f} ± {std:.2f} |" in report.stdout
    assert "(n=2)" in report.stdout
    csv = run_cli("report", tmp_path, "--format", "csv", "--plot", tmp_path / "p.png")
    assert csv.returncode == 0 and csv.stdout.startswith("task,language,") and (tmp_path / "p.png").exists()


def test_tasks_lists_languages_and_sources():
    result = run_cli("tasks")
    assert result.returncode == 0
    assert "xnli" in result.stdout and "google/xtreme" in result.stdout and "udpos.{lang_name}" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["--task", "pnax"], "Unknown task 'pnax'. Did you mean panx"),
    (["--task", "panx", "--fusion", "attention"],
     "Unknown fusion method 'attention'. Choices: aif, concat, last, mean, scalar_mix"),
    (["--task", "panx", "--fusion", "aif", "--fusion-layer", "3"],
     "fusion layer 3 is out of range for a model with 3 layers"),
])
def test_bad_choices_are_clear_errors(tiny_bert, sample_dir, tmp_path, args, message):
    result = run_cli("train", *args, "--model", tiny_bert, "--data-dir", sample_dir["panx"],
                     "--output-dir", tmp_path / "x", "--languages", "de", "--max-steps", "1", "--quiet")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_file_and_unlabelled_test(tiny_bert, sample_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(sample_dir["panx"], data)
    (data / "test-de.tsv").write_text("Anna\nlacht\n")  # labels stripped, as XTREME does
    (data / "dev-de.tsv").unlink()
    common = ["train", "--task", "panx", "--model", tiny_bert, "--data-dir", data, "--max-steps", "1", "--quiet"]
    no_fallback = run_cli(*common, "--output-dir", tmp_path / "a", "--languages", "de", "--fallback-split", "")
    assert no_fallback.returncode == 2 and "test-de has no labels" in no_fallback.stderr
    missing = run_cli(*common, "--output-dir", tmp_path / "b", "--languages", "sw")
    assert missing.returncode == 2
    assert "no test data for panx in 'sw'" in missing.stderr and str(data / "**/test-sw.tsv") in missing.stderr
    skip = run_cli(*common, "--output-dir", tmp_path / "c", "--languages", "fr,sw", "--missing-languages", "skip")
    assert skip.returncode == 0, skip.stderr
    assert list(json.loads((tmp_path / "c" / "results.json").read_text())["languages"]) == ["fr"]


@pytest.mark.slow
def test_fallback_to_dev_is_recorded(tiny_bert, sample_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(sample_dir["panx"], data)
    (data / "test-de.tsv").write_text("Anna\nlacht\n")
    result = run_cli("train", "--task", "panx", "--model", tiny_bert, "--data-dir", data, "--max-steps", "1",
                     "--quiet", "--output-dir", tmp_path / "r", "--languages", "de")
    assert result.returncode == 0, result.stderr
    assert "test-de has no labels; scored on dev" in result.stderr
    entry = json.loads((tmp_path / "r" / "results.json").read_text())["languages"]["de"]
    assert entry["split"] == "dev" and entry["notes"] == ["test-de has no labels; scored on dev"]
    assert "de †" in result.stdout


@pytest.mark.slow
def test_labels_unseen_in_training_warn(tiny_bert, sample_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(sample_dir["panx"], data)
    (data / "test-de.tsv").write_text("Anna\tB-PER\nlacht\tB-MISC\n")
    result = run_cli("train", "--task", "panx", "--model", tiny_bert, "--data-dir", data, "--max-steps", "1",
                     "--quiet", "--output-dir", tmp_path / "r", "--languages", "de")
    assert result.returncode == 0, result.stderr
    assert "test-de has labels the en training data never had: ['B-MISC']" in result.stderr


@pytest.mark.slow
def test_malformed_training_file_names_file_and_line(tiny_bert, tmp_path):
    shutil.copy(FIXTURES / "ner_columns/test-fr.tsv", tmp_path / "train-en.tsv")
    result = run_cli("train", "--task", "panx", "--model", tiny_bert, "--data-dir", tmp_path, "--max-steps", "1",
                     "--output-dir", tmp_path / "r", "--languages", "en", "--quiet")
    assert result.returncode == 2
    assert "train-en.tsv:2: this record is unlabelled" in result.stderr


@pytest.mark.slow
def test_yaml_config_and_flags(tiny_bert, sample_dir, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"task: panx\nmodel: {tiny_bert}\ndata_dir: {sample_dir['panx']}\nlanguages: [de]\n"
                      "max_steps: 2\nbatch_size: 4\nseed: 5\nfusion: aif\nfusion_layer: -2\n")
    result = run_cli("train", "--config", config, "--output-dir", tmp_path / "r", "--seed", "6", "--quiet")
    assert result.returncode == 0, result.stderr
    saved = (tmp_path / "r" / "config.yaml").read_text()
    assert "seed: 6" in saved and "fusion: aif" in saved and "fusion_layer: -2" in saved
