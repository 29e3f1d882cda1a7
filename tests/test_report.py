

def test_ensemble_columns_are_labelled_by_their_members_names():
    from xling.reporting.tables import _label

    config = {"fusion": "'ensemble:prob'", "members": repr(["/runs/ner-pawsx", "/runs/pos-pawsx"])}
    assert _label(config, ["fusion", "members"]) == "ensemble:prob members=ner-pawsx+pos-pawsx"


def _qa_run(seed: int, scores: dict[str, tuple[float, float]]):
    from xling.reporting.results import LanguageScore, Results, averages

    languages = {lang: LanguageScore("test", "constructed", 10, 10, {"f1": f1, "exact_match": em}, f1)
                 for lang, (f1, em) in scores.items()}
    return Results(task={"name": "xquad", "primary_metric": "f1"}, model={}, fusion={"method": "last"}, seed=seed,
                   config={"seed": seed}, languages=languages, averages=averages(languages, "en"))


def test_report_shows_another_metric_with_its_own_averages():
    import pytest

    from xling.errors import XlingError
    from xling.reporting.tables import render

    runs = [_qa_run(1, {"en": (80.0, 70.0), "de": (60.0, 40.0), "zh": (50.0, 30.0)}),
            _qa_run(2, {"en": (82.0, 72.0), "de": (62.0, 44.0), "zh": (52.0, 34.0)})]
    table = render(runs, metric="exact_match")
    assert table.startswith("### xquad (exact_match;")
    assert "| de | 42.0 ± 2.8 |" in table  # (40, 44): mean 42, sample std 2.83
    # all: (70 + 40 + 30) / 3 = 46.67 and (72 + 44 + 34) / 3 = 50; zero-shot: 35 and 39
    assert "| avg | 48.3 ± 2.4 |" in table and "| avg zero-shot | 37.0 ± 2.8 |" in table
    assert "| avg zero-shot | 56.0 ± 1.4 |" in render(runs)  # the primary metric: the stored averages
    with pytest.raises(XlingError, match="the runs have: exact_match, f1"):
        render(runs, metric="accuracy")


def test_fallback_notes_are_merged_per_split_not_repeated_per_language():
    from xling.reporting.results import fallback_note
    from xling.reporting.tables import merge_split_notes

    notes = {"test-af was not found; scored on dev", "test-ar was not found; scored on dev",
             "test-de has no labels; scored on dev", "a note of another shape"}
    assert merge_split_notes(notes) == ("test was not found for af, ar; scored on dev; "
                                        "test has no labels for de; scored on dev; a note of another shape")
    assert merge_split_notes(set()) == ""
    assert merge_split_notes({fallback_note("test", "ko", "was not found", "dev")}) == ("test was not found for ko; "
                                                                                       "scored on dev")


def test_a_language_with_a_fallback_and_held_out_rows_gets_one_merged_footnote():
    from tests.report_runs import make_run
    from xling.reporting.results import fallback_note
    from xling.reporting.tables import render

    held = "scored on the 8 of 20 dev examples parallel to the 8 dev[eval]-en rows held out from training and selection"
    runs = [make_run(seed, {"en": 70.0 + seed, "es": 60.0 + seed, "fr": 50.0 + seed}) for seed in (1, 2)]
    for run in runs:
        for lang in ("es", "fr"):
            run.languages[lang].notes = [fallback_note("test", lang, "has no labels", "dev"), held]
    footnote = [line for line in render(runs).splitlines() if line.startswith("†")]
    assert footnote == [f"† scored on another split than asked: test has no labels for es, fr; scored on dev; {held}"]
    for run in runs:  # results.json written before each fact was its own note: the two joined in one
        for lang in ("es", "fr"):
            run.languages[lang].notes = ["; ".join(run.languages[lang].notes)]
    assert [line for line in render(runs).splitlines() if line.startswith("†")] == footnote
