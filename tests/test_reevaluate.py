"""``xling evaluate``: output names, the files it refuses to touch, zero-shot averages of multilingual runs."""

from __future__ import annotations

import pytest

from xling.config import TrainConfig
from xling.errors import ConfigError
from xling.evaluation.reevaluate import check_output, output_name, source_languages
from xling.reporting.results import LanguageScore, averages
from xling.tasks import get_task


def _score(value: float) -> LanguageScore:
    return LanguageScore("test", "x", 1, 1, {"f1": value}, value)


def test_zero_shot_average_of_a_multilingual_run_leaves_out_every_training_language():
    task = get_task("panx")
    cfg = TrainConfig(task="panx", train_languages=["en", "de"], train_language="en")
    source = source_languages(cfg, task)
    assert source == "en+de"
    result = averages({"en": _score(90.0), "de": _score(80.0), "fr": _score(50.0), "es": _score(40.0)}, source)
    assert result["zero_shot"] == pytest.approx(45.0)  # fr, es; de trained on too
    assert source_languages(TrainConfig(task="panx"), task) == "en"


def test_output_names_differ_by_split_languages_and_data():
    saved = TrainConfig(task="panx", languages=["de"]).to_dict()
    base = TrainConfig(task="panx", languages=["de", "fr"])
    names = {output_name("panx", base, saved), output_name("panx", base.replace(eval_split="dev"), saved),
             output_name("panx", base.replace(languages=["de"]), saved),
             output_name("panx", base.replace(data_dir="/elsewhere"), saved)}
    assert len(names) == 4 and "evaluate-panx-test-de+fr" in names


def test_the_runs_own_files_and_earlier_evaluations_are_refused(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    for name in ("results.json", "config.yaml"):
        with pytest.raises(ConfigError, match="own"):
            check_output(tmp_path, tmp_path / name, tmp_path / "x-predictions", overwrite=True)
    (tmp_path / "e.json").write_text("{}")
    with pytest.raises(ConfigError, match="--overwrite"):
        check_output(tmp_path, tmp_path / "e.json", tmp_path / "e-predictions", overwrite=False)
    check_output(tmp_path, tmp_path / "e.json", tmp_path / "e-predictions", overwrite=True)
