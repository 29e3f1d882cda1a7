"""Suites: definitions, hand-computed category and suite averages with missing tasks, the benchmark command."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURES, run_cli
from xling.errors import ConfigError
from xling.reporting.results import LanguageScore, Results
from xling.studies.suites import SUITES, collect_runs, get_suite, render_suite, score_suite


def make_run(task: str, scores: dict[str, float], seed: int = 0, metrics: dict[str, dict] | None = None,
             fusion: str = "last") -> Results:
    languages = {lang: LanguageScore("test", "x", 10, 10, (metrics or {}).get(lang, {"accuracy": v}), v)
                 for lang, v in scores.items()}
    return Results(task={"name": task, "primary_metric": "accuracy"}, model={}, fusion={}, seed=seed,
                   config={"task": task, "fusion": fusion, "seed": seed}, languages=languages, averages={})


def test_suites_define_the_papers_tasks_per_category():
    xtreme, xtreme_r = get_suite("xtreme"), get_suite("xtreme-r")
    by_category = lambda suite: {c: [t.label for t in suite.tasks if t.category == c] for c in suite.categories()}  # noqa: E731
    assert by_category(xtreme) == {"classification": ["XNLI", "PAWS-X"], "structured prediction": ["POS", "NER"],
                                   "question answering": ["XQuAD", "MLQA", "TyDiQA-GoldP"],
                                   "retrieval": ["BUCC", "Tatoeba"]}
    assert by_category(xtreme_r) == {"classification": ["XNLI", "XCOPA"],
                                     "structured prediction": ["UD-POS", "WikiANN-NER"],
                                     "question answering": ["XQuAD", "MLQA", "TyDiQA-GoldP"],
                                     "retrieval": ["Mewsli-X", "LAReQA", "Tatoeba"]}
    counts = {t.label: len(t.languages) for t in xtreme_r.tasks}
    assert counts["XNLI"] == 15 and counts["XCOPA"] == 11 and counts["Tatoeba"] == 41 and counts["WikiANN-NER"] == 48
    assert {t.label: len(t.languages) for t in xtreme.tasks}["Tatoeba"] == 36
    assert SUITES.names() == ["xtreme", "xtreme-r"]


def test_hand_computed_xtreme_r_scores_with_missing_tasks():
    runs = {
        "xnli": [make_run("xnli", {"en": 80.0, "de": 70.0, "xx": 0.0})],  # xx is not an XNLI language: ignored
        "xcopa": [make_run("xcopa", {"it": 60.0, "zh": 50.0}, seed=1), make_run("xcopa", {"it": 70.0, "zh": 40.0}, seed=2)],
        "udpos": [make_run("udpos", {"en": 90.0, "de": 80.0})],
        "tatoeba": [make_run("tatoeba", {"de": 40.0, "fr": 60.0})],
        "mlqa": [make_run("mlqa", {"en": 60.0}, metrics={"en": {"exact_match": 40.0, "f1": 60.0}})],
    }
    scores = score_suite(get_suite("xtreme-r"), runs, reasons={"panx": "failed: out of memory"})
    task = {t.label: t for t in scores.tasks}
    assert task["XNLI"].score == 75.0 and len(task["XNLI"].missing_languages) == 13
    assert task["XCOPA"].score == 55.0 and task["XCOPA"].runs == 2  # it 65, zh 45 over two seeds
    assert task["WikiANN-NER"].score is None and task["WikiANN-NER"].reason == "failed: out of memory"
    assert task["Mewsli-X"].reason == "not implemented in xling" and task["XQuAD"].reason == "no results"
    assert scores.categories == {"classification": 65.0, "structured prediction": 85.0,
                                 "question answering": 60.0, "retrieval": 50.0}
    assert scores.score == pytest.approx((65 + 85 + 60 + 50) / 4)
    assert scores.task_mean == pytest.approx((75 + 55 + 85 + 60 + 50) / 5)
    assert not scores.complete and {t.label for t in scores.missing} == {"WikiANN-NER", "XQuAD", "TyDiQA-GoldP",
                                                                         "Mewsli-X", "LAReQA"}
    em_f1 = score_suite(get_suite("xtreme-r"), runs, qa_score="em_f1_mean")
    assert em_f1.categories["question answering"] == 50.0
    table = render_suite(scores)
    assert "partial: 5 of 10 tasks missing" in table
    assert "| classification | **average** | | | **65.0** |" in table.replace(" (partial: languages missing)", "")
    assert "| retrieval | **average (partial: 1/3 tasks)** | | | **50.0** |" in table
    assert "| retrieval | Mewsli-X | mAP@20 | – | missing: not implemented in xling |" in table
    assert "**XTREME-R score** (mean of category averages; partial: 4/4 categories, 5/10 tasks): **65.0**" in table
    assert "Missing languages (averages cover the rest): XNLI: ar bg el es fr hi ru sw th tr ur vi zh" in table
    with pytest.raises(ConfigError, match="qa_score"):
        score_suite(get_suite("xtreme"), runs, qa_score="em")


def test_empty_category_has_no_average():
    scores = score_suite(get_suite("xtreme"), {"tatoeba": [make_run("tatoeba", {"de": 30.0})]})
    assert scores.categories["classification"] is None and scores.categories["retrieval"] == 30.0
    assert scores.score == 30.0 and "| classification | **average (partial: 0/2 tasks)** | | | **–** |" in render_suite(scores)


def test_collect_runs_refuses_two_configurations_of_one_task(tmp_path):
    for name, fusion, seed in (("a", "last", 1), ("b", "last", 2)):
        (tmp_path / name).mkdir()
        make_run("xnli", {"en": 80.0}, seed=seed, fusion=fusion).save(tmp_path / name)
    assert len(collect_runs([tmp_path])["xnli"]) == 2  # two seeds of one configuration
    (tmp_path / "c").mkdir()
    make_run("xnli", {"en": 80.0}, fusion="aif").save(tmp_path / "c")
    with pytest.raises(ConfigError, match="xnli: runs of 2 different configurations"):
        collect_runs([tmp_path])


@pytest.mark.slow
def test_benchmark_runs_available_tasks_then_builds_the_table(tiny_bert, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    for name in ("xcopa", "tatoeba"):
        (root / name).symlink_to(FIXTURES / name, target_is_directory=True)
    out = tmp_path / "bench"
    args = ["benchmark", "--suite", "xtreme-r", "--model", tiny_bert, "--data-root", root, "--output-dir", out,
            "--tasks", "xcopa,tatoeba", "--epochs", "1", "--batch-size", "4", "--quiet"]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    suite = json.loads((out / "suite.json").read_text())
    tasks = {t["label"]: t for t in suite["tasks"]}
    assert tasks["XCOPA"]["languages"] == ["it", "zh"] and tasks["XCOPA"]["score"] is not None
    assert tasks["Tatoeba"]["languages"] == ["de", "fr"]
    assert suite["missing_tasks"]["XNLI"] == "no results" and suite["missing_tasks"]["LAReQA"] == "not implemented in xling"
    assert json.loads((out / "xcopa" / "results.json").read_text())["config"]["epochs"] == 1
    assert "XTREME-R score" in result.stdout and (out / "suite.md").exists()
    again = run_cli(*args)  # finished tasks are kept, the table is the same
    assert again.returncode == 0 and "keeping the finished run" in again.stderr
    table = run_cli("benchmark", "--suite", "xtreme-r", "--runs", out)
    assert table.returncode == 0 and table.stdout == (out / "suite.md").read_text()
    bad = run_cli("benchmark", "--suite", "xtreme-r", "--model", tiny_bert)
    assert bad.returncode == 2 and "--data-root" in bad.stderr


def test_benchmark_udpos_plan_reads_sentences_starting_with_hash(tmp_path):
    """XTREME's udpos files have sentences whose first token is '#': a token row, not a CoNLL-U comment."""
    from xling.tasks import get_task
    from xling.data.loading import load_split

    (tmp_path / "train-en.tsv").write_text("#\tSYM\n1\tNUM\n\nHello\tINTJ\n")
    data = load_split(get_task("udpos"), "en", "train", data_dir=tmp_path)
    assert [(e.tokens, e.tags) for e in data.examples] == [(["#", "1"], ["SYM", "NUM"]), (["Hello"], ["INTJ"])]


def test_suite_command_and_its_benchmark_alias_are_one_command():
    from xling.cli import build_parser

    parse = build_parser().parse_args
    suite, alias = parse(["suite", "--suite", "xtreme", "--runs", "r"]), parse(["benchmark", "--suite", "xtreme", "--runs", "r"])
    assert suite.func is alias.func and (suite.suite, suite.runs) == (alias.suite, alias.runs) == ("xtreme", ["r"])
