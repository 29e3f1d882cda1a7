"""xling report never merges different experiments: evaluation data identity, runs counted twice, mixed averages."""

from __future__ import annotations

import dataclasses

import pytest

from tests.report_runs import make_run, save_runs
from xling.errors import XlingError
from xling.reporting.tables import group_runs, load_runs, render


def test_runs_on_different_language_sets_are_different_columns():
    """The issue's example: {en, de, fr} from one folder and {en, sw, yo} from another were one 'aif (n=2)'."""
    a = make_run(1, {"en": 80.0, "de": 70.0, "fr": 72.0}, "aif", 4, run_dir="runs/a-s1")
    b = make_run(2, {"en": 75.0, "sw": 20.0, "yo": 15.0}, "aif", 4, run_dir="other/a-s2")
    groups = group_runs([a, b])
    assert len(groups) == 2 and all(len(g.runs) == 1 for g in groups)
    assert [g.label for g in groups] == ["aif@4 [on de,en,fr]", "aif@4 [on en,sw,yo]"]
    table = render([a, b])
    assert "(n=2)" not in table and "52.5" not in table
    assert "| avg | 74.0 ‡ | 36.7 ‡ |" in table
    assert "‡ the columns average over different languages" in table and "aif@4 [on en,sw,yo]: en, sw, yo" in table


def test_same_languages_other_evaluation_sets_are_not_merged():
    a = make_run(1, {"en": 80.0, "de": 70.0}, run_dir="runs/s1")
    b = make_run(2, {"en": 78.0, "de": 68.0}, run_dir="runs/s2")
    c = make_run(3, {"en": 90.0, "de": 90.0}, run_dir="runs/s3")
    c.languages = {lang: dataclasses.replace(s, examples=20) for lang, s in c.languages.items()}  # a smaller subset
    groups = group_runs([a, b, c])
    assert [len(g.runs) for g in groups] == [2, 1]
    assert groups[0].label == "last [test n=40]" and groups[1].label == "last [test n=20]"
    # the same files in another checkout are the same data
    d = make_run(4, {"en": 79.0, "de": 69.0}, run_dir="elsewhere/s4")
    d.languages = {lang: dataclasses.replace(s, source="/home/me/xling/" + s.source) for lang, s in d.languages.items()}
    assert [len(g.runs) for g in group_runs([a, b, d])] == [3]


def test_a_run_counted_twice_is_an_error(tmp_path):
    run = make_run(1, {"en": 80.0, "de": 70.0}, run_dir="runs/last-s1")
    other = make_run(2, {"en": 79.0, "de": 71.0}, run_dir="runs/last-s2")
    save_runs([run, other], tmp_path / "first")
    save_runs([run], tmp_path / "copy")  # the same results.json in a second folder
    with pytest.raises(XlingError, match="the same run is counted twice: .*first.*copy"):
        render(load_runs([tmp_path / "first", tmp_path / "copy"]))
    with pytest.raises(XlingError, match="counted twice"):
        group_runs([run, run])
    assert "(n=2)" in render(load_runs([tmp_path / "first"]))
