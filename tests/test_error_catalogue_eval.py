"""The error catalogue (issue 11), part 4: ``xling evaluate`` (outputs side by side, never the run's own
files, corrupt models and configs) and ``xling report`` (bad results files, unwritable outputs).

See ``tests/test_error_catalogue.py`` for what a case is and the counts before and after.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.catalogue import (  # noqa: F401
    RANDOM, Case, assert_expected, catalogue_data, copy_run, env, finished_run, invoke, old_run_intact, read_only,
    truncate, write_file)

CASES: list[Case] = []

# ---------------------------------------------------------------- xling evaluate


def evaluate(*extra):
    return lambda e: ["evaluate", "--run", e.tmp / "run", "--quiet", *[str(x).format(env=e) for x in extra]]


def _run_changed(change):
    def setup(e):
        copy_run(e)
        change(e.tmp / "run")
    return setup


def _earlier_evaluation(*flags):
    def setup(e):
        copy_run(e)
        first = invoke(evaluate(*flags)(e))
        assert first.rc == 0, first.stderr + (first.error or "")
        e.extra["evaluations"] = {p.name: p.read_bytes() for p in (e.tmp / "run").glob("evaluate*.json")}
    return setup


def _both_evaluations(e, outcome):
    lost = old_run_intact(e, outcome)
    if lost:
        return lost
    for name, content in e.extra.get("evaluations", {}).items():
        if not (e.tmp / "run" / name).exists() or (e.tmp / "run" / name).read_bytes() != content:
            return "data_loss", f"the earlier evaluation {name} was replaced"
    if outcome.rc == 0 and len(list((e.tmp / "run").glob("evaluate*.json"))) < 2:
        return "data_loss", "two evaluations of one run do not live side by side"
    return None


def _no_stale_predictions(e, outcome):
    """The predictions beside eval.json are those of the languages it holds, no others."""
    lost = old_run_intact(e, outcome)
    if lost:
        return lost
    folder = e.tmp / "eval-predictions"
    names = {p.name.split(".")[0] for p in folder.iterdir()} if folder.is_dir() else set()
    scored = set(json.loads((e.tmp / "eval.json").read_text())["languages"])
    if names != scored:
        return "data_loss", f"predictions of {sorted(names)} beside an evaluation of {sorted(scored)}"
    return None


CASES += [
    Case("evaluate-output-is-results-json", evaluate("--output", "{env.tmp}/run/results.json"), ("results.json",),
         setup=copy_run, after=old_run_intact),
    Case("evaluate-output-is-config-yaml", evaluate("--output", "{env.tmp}/run/config.yaml"), ("config.yaml",),
         setup=copy_run, after=old_run_intact),
    Case("evaluate-output-is-a-directory", evaluate("--output", "{env.tmp}/run/model"), ("model",),
         setup=copy_run, after=old_run_intact),
    Case("evaluate-twice-other-languages", evaluate("--languages", "fr"), expect="ok",
         setup=_earlier_evaluation("--languages", "de"), after=_both_evaluations),
    Case("evaluate-twice-other-split", evaluate("--languages", "de", "--eval-split", "dev"), expect="ok",
         setup=_earlier_evaluation("--languages", "de"), after=_both_evaluations),
    Case("evaluate-twice-the-same", evaluate("--languages", "de"), ("already exists", "--overwrite"),
         setup=_earlier_evaluation("--languages", "de"), after=_both_evaluations),
    Case("evaluate-same-output-twice", evaluate("--languages", "de", "--output", "{env.tmp}/eval.json"),
         ("eval.json", "--overwrite"), setup=_earlier_evaluation("--languages", "fr", "--output", "{env.tmp}/eval.json"),
         after=_no_stale_predictions),
    Case("evaluate-overwrite-drops-stale-predictions",
         evaluate("--languages", "de", "--output", "{env.tmp}/eval.json", "--overwrite"), expect="ok",
         setup=_earlier_evaluation("--languages", "fr", "--output", "{env.tmp}/eval.json"),
         after=_no_stale_predictions),
    Case("evaluate-config-unknown-key", evaluate(), ("config.yaml", "learnig_rate"),
         setup=_run_changed(lambda r: r.joinpath("config.yaml").write_text(
             r.joinpath("config.yaml").read_text() + "learnig_rate: 0.001\n"))),
    Case("evaluate-config-invalid-yaml", evaluate(), ("config.yaml", "YAML"),
         setup=_run_changed(lambda r: r.joinpath("config.yaml").write_text("task: [panx\n"))),
    Case("evaluate-config-bad-value", evaluate(), ("config.yaml", "dropout"),
         setup=_run_changed(lambda r: r.joinpath("config.yaml").write_text(
             r.joinpath("config.yaml").read_text().replace("dropout: 0.1", "dropout: 3")))),
    Case("evaluate-corrupt-encoder-weights", evaluate(), ("model", "cannot load"),
         setup=_run_changed(lambda r: truncate("model.safetensors")(r / "model" / "encoder"))),
    Case("evaluate-random-head-weights", evaluate(), ("xling_heads.safetensors",),
         setup=_run_changed(lambda r: write_file("xling_heads.safetensors", RANDOM)(r / "model"))),
    Case("evaluate-broken-model-spec", evaluate(), ("xling_model.json",),
         setup=_run_changed(lambda r: write_file("xling_model.json", "{\"encoder\": ")(r / "model"))),
    Case("evaluate-missing-model-spec", evaluate(), ("xling_model.json",),
         setup=_run_changed(lambda r: (r / "model" / "xling_model.json").unlink())),
    Case("evaluate-broken-encoder-config", evaluate(), ("config.json", "JSON"),
         setup=_run_changed(lambda r: write_file("config.json", "{")(r / "model" / "encoder"))),
    Case("evaluate-no-model", evaluate(), ("no saved model",), setup=_run_changed(lambda r: shutil.rmtree(r / "model"))),
    Case("evaluate-run-missing", lambda e: ["evaluate", "--run", e.tmp / "nope", "--quiet"], ("nope",)),
    Case("evaluate-other-kind", evaluate("--task", "pawsx", "--data-dir", "{env.pawsx}"), ("pawsx", "panx"),
         setup=copy_run),
]


# ---------------------------------------------------------------- xling report


def _results(change):
    def setup(e):
        data = json.loads((e.run / "results.json").read_text())
        folder = e.tmp / "r"
        folder.mkdir()
        content = change(data)
        (folder / "results.json").write_text(content if isinstance(content, str) else json.dumps(content))
    return setup


def report(*extra):
    return lambda e: ["report", e.tmp / "r", *[str(x).format(env=e) for x in extra]]


def _intact(data):
    return data


CASES += [
    Case("report-json-list", report(), ("results.json", "list"), setup=_results(lambda d: [d])),
    Case("report-unknown-schema-version", report(), ("results.json", "xling.results/99"),
         setup=_results(lambda d: {**d, "schema": "xling.results/99"})),
    Case("report-not-xling", report(), ("results.json", "schema"), setup=_results(lambda d: {"a": 1})),
    Case("report-not-json", report(), ("results.json",), setup=_results(lambda d: "{\"schema\": ")),
    Case("report-languages-a-list", report(), ("results.json", "languages"),
         setup=_results(lambda d: {**d, "languages": []})),
    Case("report-language-entry-broken", report(), ("results.json",),
         setup=_results(lambda d: {**d, "languages": {"de": {"primary": 1}}})),
    Case("report-plot-missing-folder", report("--plot", "{env.tmp}/nowhere/p.png"), ("p.png",), setup=_results(_intact)),
    Case("report-plot-a-directory", report("--plot", "{env.tmp}/r"), ("{env.tmp}/r",), setup=_results(_intact)),
    Case("report-plot-read-only", report("--plot", "{env.tmp}/ro/p.png"), ("p.png", "Permission denied"),
         setup=lambda e: (_results(_intact)(e), (e.tmp / "ro").mkdir()), patch=read_only("ro")),
    Case("report-output-missing-folder", report("--output", "{env.tmp}/nowhere/r.md"), ("r.md",),
         setup=_results(_intact)),
    Case("report-empty-folder", report(), ("results.json", "{env.tmp}/r"), setup=lambda e: (e.tmp / "r").mkdir()),
    Case("report-missing-path", lambda e: ["report", e.tmp / "nope"], ("nope",)),
    Case("report-unknown-metric", report("--metric", "bleu"), ("bleu",), setup=_results(_intact)),
    Case("report-unknown-baseline", report("--baseline", "nothing"), ("nothing",), setup=_results(_intact)),
]


def _run_with_previous(e):
    """A folder of runs where one run's --overwrite was interrupted: its old run waits in .xling-previous/."""
    shutil.copytree(e.run, e.tmp / "runs" / "a")
    shutil.copytree(e.run, e.tmp / "runs" / "a" / ".xling-previous")


def _counted_once(e, outcome):
    if outcome.rc == 0 and "(n=2)" in outcome.stdout:
        return "silent", "the run moved aside by --overwrite is counted as another seed"
    return None


CASES += [
    Case("report-skips-moved-aside-run", lambda e: ["report", e.tmp / "runs"], expect="ok",
         setup=_run_with_previous, after=_counted_once),
]


# ---------------------------------------------------------------- labels outside the label set, in re-evaluation


def _labels_file(content):
    return lambda e: (e.tmp / "odd.tsv").write_text(content, encoding="utf-8")


def _in_evaluation_warnings(text):
    def after(e, outcome):
        found = [json.loads(p.read_text())["warnings"] for p in e.tmp.glob("*/evaluate-*.json")]
        if outcome.rc == 0 and not any(text in w for ws in found for w in ws):
            return "silent", f"{text!r} not in the evaluation's warnings"
        return None
    return after


CASES += [
    Case("evaluate-pawsx-labels-outside-set",
         lambda e: ["evaluate", "--run", e.tmp / "run", "--quiet", "--languages", "de", "--file", f"de:test={e.tmp}/odd.tsv"],
         ("maybe",), "warning", setup=lambda e: (shutil.copytree(e.extra["pawsx_run"], e.tmp / "run"),
                                                 _labels_file("A a .\tA a .\t1\nB b .\tB b .\tmaybe\n")(e)),
         after=_in_evaluation_warnings("maybe")),
    Case("evaluate-panx-labels-outside-set",
         lambda e: ["evaluate", "--run", e.tmp / "run", "--quiet", "--languages", "de", "--file", f"de:test={e.tmp}/odd.tsv"],
         ("B-MISC",), "warning", setup=lambda e: (copy_run(e), _labels_file("Anna\tB-PER\nRom\tB-MISC\n")(e)),
         after=_in_evaluation_warnings("B-MISC")),
]


@pytest.fixture(scope="module")
def pawsx_run(tiny_bert, catalogue_data, tmp_path_factory):
    from tests.catalogue import Env, train

    e = Env(tmp_path_factory.mktemp("catalogue-pawsx"), tiny_bert, catalogue_data["panx"], catalogue_data["pawsx"])
    result = invoke(train(e, task="pawsx"))
    assert result.rc == 0, result.stderr + (result.error or "")
    return e.tmp / "run"


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_evaluate_and_report(case, env, finished_run, request, monkeypatch):  # noqa: F811
    env.run = finished_run
    if "pawsx" in case.id:
        env.extra["pawsx_run"] = request.getfixturevalue("pawsx_run")
    assert_expected(case, env, monkeypatch)
