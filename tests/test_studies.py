"""Study runners: planning, tables from results (hand-computed), and small end-to-end studies."""

from __future__ import annotations

import csv

import pytest

from tests.conftest import FIXTURES, run_cli
from xling.errors import ConfigError
from xling.training.pipeline_config import PipelineConfig
from xling.reporting.results import LanguageScore, Results, averages
from xling.studies.intermediate import PlannedRun, diversity_table, multilingual_table, plan_diversity, plan_multilingual, \
    run_multilingual

SICK = FIXTURES / "sick_small"


def base(tmp_path, **changes):
    return PipelineConfig.of(model="m", output_dir=str(tmp_path / "study"), target={"task": "pawsx"}, **changes)


def fake_results(seed: int, en: float, de: float) -> Results:
    languages = {lang: LanguageScore("test", "x", 10, 10, {"accuracy": v}, v) for lang, v in (("en", en), ("de", de))}
    return Results(task={"name": "pawsx", "primary_metric": "accuracy"}, model={}, fusion={}, seed=seed, config={},
                   languages=languages, averages=averages(languages, "en"))


def test_diversity_plans_every_subset_or_a_seeded_sample(tmp_path):
    runs = plan_diversity(base(tmp_path), ["sick", "panx", "udpos"], [0, 1, 2, 3], [1, 2])
    assert len(runs) == (1 + 3 + 3 + 1) * 2
    names = [r.name for r in runs]
    assert names[:4] == ["k0-none-seed1", "k0-none-seed2", "k1-sick-seed1", "k1-sick-seed2"]
    by_name = {r.name: r for r in runs}
    assert by_name["k0-none-seed1"].cfg.stages == []
    assert by_name["k2-sick+udpos-seed2"].cfg.stages == [{"tasks": ["sick", "udpos"]}]
    assert by_name["k2-sick+udpos-seed2"].cfg.train.seed == 2
    assert by_name["k3-sick+panx+udpos-seed1"].cfg.train.output_dir == str(tmp_path / "study" / "runs" / "k3-sick+panx+udpos-seed1")
    sampled = plan_diversity(base(tmp_path), ["sick", "panx", "udpos"], [1, 2], [1], subsets=2, subset_seed=4)
    assert [r.info["size"] for r in sampled] == [1, 1, 2, 2]
    assert [r.name for r in sampled] == [r.name for r in plan_diversity(base(tmp_path), ["sick", "panx", "udpos"],
                                                                        [1, 2], [1], subsets=2, subset_seed=4)]
    sequential = plan_diversity(base(tmp_path), ["sick", "panx"], [2], [1], mode="sequential")
    assert sequential[0].cfg.stages == ["sick", "panx"]


def test_plans_refuse_what_they_cannot_do(tmp_path):
    with pytest.raises(ConfigError, match="outside 0..2"):
        plan_diversity(base(tmp_path), ["sick", "panx"], [3], [1])
    with pytest.raises(ConfigError, match="builds the intermediate stages itself"):
        plan_diversity(base(tmp_path, stages=["sick"]), ["panx"], [1], [1])
    with pytest.raises(ConfigError, match="languages other than en"):
        plan_multilingual(base(tmp_path), "pawsx", ["en"], [1])


def test_multilingual_plans_the_same_task_with_two_language_sets(tmp_path):
    runs = plan_multilingual(base(tmp_path), "pawsx", ["en", "de", "fr"], [1, 2])
    assert [r.name for r in runs] == ["english-seed1", "english-seed2", "multilingual-seed1", "multilingual-seed2"]
    assert runs[0].cfg.stages == [{"task": "pawsx", "train_languages": ["en"]}]
    assert runs[3].cfg.stages == [{"task": "pawsx", "train_languages": ["en", "de", "fr"]}]


def test_diversity_table_by_hand(tmp_path):
    plan = [(0, "none", 1, 50), (0, "none", 2, 54), (1, "a", 1, 60), (1, "a", 2, 62), (1, "b", 1, 56), (1, "b", 2, 58)]
    runs = [PlannedRun(f"r{i}", base(tmp_path), {"size": k, "subset": s, "seed": seed})
            for i, (k, s, seed, _) in enumerate(plan)]
    results = [fake_results(seed, 90.0, de) for _, _, seed, de in plan]
    table = diversity_table(runs, results)
    # k=0: de 50, 54 -> 52.0 ± 2.8; k=1: 60, 62, 56, 58 -> 59.0 ± 2.6 (stdev sqrt(20/3)); Δ = +7.0
    assert "| 0 | 1 | 2 | 52.0 ± 2.8 |" in table
    assert "| 1 | 2 | 4 | 59.0 ± 2.6 |" in table and "| +7.0 |" in table
    assert "| 1 | a | 2 | 61.0 ± 1.4 |" in table and "| 1 | b | 2 | 57.0 ± 1.4 |" in table


def test_multilingual_table_pairs_seeds(tmp_path):
    runs = plan_multilingual(base(tmp_path), "pawsx", ["en", "de"], [1, 2])
    results = [fake_results(1, 90, 50), fake_results(2, 92, 52), fake_results(1, 90, 55), fake_results(2, 91, 54)]
    table = multilingual_table(runs, results)
    # de: English-only 50, 52 -> 51.0 ± 1.4; multilingual 55, 54 -> 54.5 ± 0.7; differences 5, 2 -> 3.5 ± 2.1
    assert "| de | 51.0 ± 1.4 | 54.5 ± 0.7 | 3.5 ± 2.1 |" in table
    # en: 90, 92 vs 90, 91 -> differences 0, -1
    assert "| en | 91.0 ± 1.4 | 90.5 ± 0.7 | -0.5 ± 0.7 |" in table
    assert "| avg zero-shot | 51.0 ± 1.4 | 54.5 ± 0.7 | 3.5 ± 2.1 |" in table


@pytest.mark.slow
def test_diversity_study_from_the_command_line(tiny_bert, sample_dir, tmp_path):
    out = tmp_path / "div"
    args = ["study", "diversity", "--pool", "sick,panx", "--sizes", "0,2", "--seeds", "1", "--target", "pawsx",
            "--model", tiny_bert, "--task-option", f"sick:data_dir={SICK}",
            "--task-option", f"panx:data_dir={sample_dir['panx']}", "--task-option", "panx:max_train_examples=16",
            "--task-option", f"pawsx:data_dir={sample_dir['pawsx']}", "--task-option", "pawsx:max_train_examples=16",
            "--languages", "en,de", "--max-eval-examples", "10", "--epochs", "1", "--batch-size", "8",
            "--learning-rate", "1e-3", "--quiet", "--no-save-model", "--output-dir", out]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "target score by number of intermediate tasks" in result.stdout
    assert {p.name for p in out.iterdir()} == {"runs", "diversity.md", "diversity.csv", "diversity.png"}
    rows = list(csv.DictReader(open(out / "diversity.csv")))
    assert [(r["run"], r["size"], r["subset"]) for r in rows] == [("k0-none-seed1", "0", "none"),
                                                                  ("k2-sick+panx-seed1", "2", "sick+panx")]
    assert rows[1]["avg zero-shot"] == rows[1]["de"]
    again = run_cli(*args)
    assert again.returncode == 0 and again.stderr.count("finished earlier") == 2
    listed = run_cli(*args, "--dry-run")
    assert "k2-sick+panx-seed1  (finished)" in listed.stdout and "2 runs in" in listed.stdout


def test_multilingual_study_runs_both_variants(tiny_bert, sample_dir, tmp_path):
    cfg = PipelineConfig.of(
        model=str(tiny_bert), output_dir=str(tmp_path / "ml"), target={"task": "panx"}, languages=["en", "de", "fr"],
        epochs=1, batch_size=8, learning_rate=1e-3, quiet=True, save_model=False, max_eval_examples=10,
        task_defaults={"pawsx": {"data_dir": str(sample_dir["pawsx"]), "train_split": "dev", "selection_holdout": 8},
                       "panx": {"data_dir": str(sample_dir["panx"]), "max_train_examples": 16}})
    output = run_multilingual(cfg, "pawsx", ["en", "de", "es"], [1])
    english, multilingual = output.results
    assert english.stages[0]["language"] == "en" and english.stages[0]["examples"] == 22
    assert multilingual.stages[0]["language"] == "en+de+es" and multilingual.stages[0]["examples"] == 82
    assert "English-only vs multilingual (en,de,es)" in output.table and "| fr |" in output.table
    assert (tmp_path / "ml" / "multilingual.csv").is_file()
