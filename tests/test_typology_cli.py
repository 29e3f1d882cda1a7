"""``xling typology``: matrices, nearest languages, and gains correlated with distance (on constructed results)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import run_cli
from xling.cli import main
from xling.reporting.results import LanguageScore, Results
from xling.studies.typology import DISTANCE_KINDS, TypologyError, distance, language_gains


def parse_markdown(text: str) -> dict[str, dict[str, dict[str, float]]]:
    """{kind: {row lang: {column lang: value}}} from the markdown matrices."""
    matrices, header = {}, None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not line.startswith("|") or cells[0].startswith("---"):
            header = None if not line.startswith("|") else header
            continue
        if header is None:
            header = cells
            matrices[cells[0]] = {}
        else:
            matrices[header[0]][cells[0]] = {lang: float(v) for lang, v in zip(header[1:], cells[1:])}
    return matrices


@pytest.mark.slow
def test_bare_languages_print_every_matrix_symmetric_with_zero_diagonal():
    result = run_cli("typology", "de,en,ja")  # the real entry point, bare languages = matrix
    assert result.returncode == 0, result.stderr
    matrices = parse_markdown(result.stdout)
    assert list(matrices) == list(DISTANCE_KINDS)
    for kind, matrix in matrices.items():
        assert list(matrix) == ["de", "en", "ja"]
        for a in matrix:
            assert matrix[a][a] == 0.0
            for b in matrix:
                assert matrix[a][b] == matrix[b][a] and 0.0 <= matrix[a][b] <= 2.0
    assert matrices["syntactic"]["de"]["ja"] == pytest.approx(distance("de", "ja"), abs=5e-4)


def test_matrix_subcommand_csv_and_kind(capsys):
    assert main(["typology", "matrix", "de", "en,ja", "--kind", "syntactic,genetic", "--format", "csv",
                 "--digits", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "syntactic,de,en,ja" and lines[4] == "genetic,de,en,ja" and len(lines) == 8
    assert lines[1] == "de,0.0000," + f"{distance('de', 'en'):.4f},{distance('de', 'ja'):.4f}"
    assert main(["typology", "de,en", "--kind", "syntactic"]) == 0  # bare languages with options
    assert capsys.readouterr().out.startswith("| syntactic | de | en |")


def test_bad_kind_and_language_are_user_errors(capsys):
    assert main(["typology", "de,en", "--kind", "lexical"]) == 2
    assert "unknown distance kind 'lexical'" in capsys.readouterr().err
    assert main(["typology", "de,klingon"]) == 2
    assert "'klingon'" in capsys.readouterr().err


def test_nearest_ranks_candidates(capsys):
    assert main(["typology", "nearest", "ja", "--candidates", "en,de,ko,zh", "-k", "2", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "target,rank,language,syntactic"
    assert [line.split(",")[2] for line in lines[1:]] == ["ko", "zh"]
    assert float(lines[1].split(",")[3]) == pytest.approx(distance("ja", "ko"), abs=5e-4)


# ---------------------------------------------------------------- correlate on constructed results

BASE = {"de": (80.0, 82.0), "es": (84.0, 84.0), "ja": (70.0, 72.0), "zh": (75.0, 76.0), "en": (90.0, 90.0)}
GAIN = {"de": 1.0, "es": 2.0, "ja": 4.0, "zh": 3.5}  # treatment = baseline + gain; en only in the baseline


def write_run(path, seed: int, scores: dict[str, float], stages: list[dict] | None = None, split: str = "test"):
    languages = {lang: LanguageScore(split, "constructed", 10, 10, {"accuracy": v}, v) for lang, v in scores.items()}
    results = Results(task={"name": "pawsx", "primary_metric": "accuracy"}, model={}, fusion={"method": "last"},
                      seed=seed, config={"seed": seed}, languages=languages, averages={}, stages=stages or [],
                      run_dir=str(path))
    path.mkdir(parents=True)
    results.save(path)
    return path


@pytest.fixture
def gain_runs(tmp_path):
    baseline = [write_run(tmp_path / f"base{s}", s, {lang: v[s] for lang, v in BASE.items()}) for s in (0, 1)]
    stages = [{"task": "sick", "language": "en"}, {"task": "pawsx", "language": "en"}]
    treatment = [write_run(tmp_path / f"treat{s}", s, {lang: BASE[lang][s] + g for lang, g in GAIN.items()}, stages)
                 for s in (0, 1)]
    return baseline, treatment


def pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    return sxy / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))


def test_correlate_gains_with_distance_to_intermediate_language(gain_runs, tmp_path, capsys):
    baseline, treatment = gain_runs
    out = tmp_path / "study.json"
    # no --intermediate-languages: taken from the treatment runs' intermediate stage (sick, en)
    assert main(["typology", "correlate", "--baseline", *map(str, baseline), "--treatment", *map(str, treatment),
                 "--kind", "syntactic,genetic", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| ja | 71.00 | 75.00 | +4.00 |" in printed and "not compared (scored by one side only): en" in printed
    study = json.loads(out.read_text())
    assert study["intermediate_languages"] == ["en"] and study["skipped"] == ["en"]
    langs = ["de", "es", "ja", "zh"]
    assert list(study["languages"]) == langs
    for lang in langs:
        entry = study["languages"][lang]
        assert entry["gain"] == pytest.approx(GAIN[lang])
        assert entry["baseline"] == pytest.approx(sum(BASE[lang]) / 2) and entry["treatment_runs"] == 2
    for kind in ("syntactic", "genetic"):
        dists = [distance(lang, "en", kind) for lang in langs]
        assert [study["languages"][lang]["distance"][kind] for lang in langs] == pytest.approx(dists)
        stats = study["correlations"][kind]
        assert stats["n"] == 4 and stats["langs"] == langs
        assert stats["pearson_r"] == pytest.approx(pearson(dists, [GAIN[lang] for lang in langs]))
        assert 0.0 <= stats["pearson_p"] <= 1.0 and 0.0 <= stats["spearman_p"] <= 1.0
        # gain and distance with the baseline score regressed out (least-squares lines, then Pearson)
        base = np.array([sum(BASE[lang]) / 2 for lang in langs])
        residual = [np.asarray(v) - np.polyval(np.polyfit(base, v, 1), base)
                    for v in (dists, [GAIN[lang] for lang in langs])]
        assert stats["partial_r"] == pytest.approx(pearson(*map(list, residual)), abs=1e-9)
    assert "partial r (baseline held fixed)" in printed


def test_correlate_reduces_over_the_intermediate_set(gain_runs, tmp_path, capsys):
    baseline, treatment = gain_runs
    out = tmp_path / "mean.json"
    assert main(["typology", "correlate", "--baseline", *map(str, baseline), "--treatment", *map(str, treatment),
                 "--intermediate-languages", "en,de", "--reduce", "mean", "--languages", "es,ja,zh",
                 "--format", "csv", "--output", str(out)]) == 0
    assert capsys.readouterr().out.startswith("language,baseline,treatment,gain,syntactic distance\n")
    study = json.loads(out.read_text())
    x = [(distance(lang, "en") + distance(lang, "de")) / 2 for lang in ("es", "ja", "zh")]
    assert study["correlations"]["syntactic"]["pearson_r"] == pytest.approx(pearson(x, [2.0, 4.0, 3.5]))


def test_language_gains_refuses_different_splits_and_tasks(tmp_path):
    base = Results.load(write_run(tmp_path / "b", 0, {"de": 80.0, "es": 81.0}))
    treat = Results.load(write_run(tmp_path / "t", 0, {"de": 82.0, "es": 83.0}, split="dev"))
    with pytest.raises(TypologyError, match="different splits"):
        language_gains([base], [treat])
    treat.task = {"name": "xnli", "primary_metric": "accuracy"}
    with pytest.raises(TypologyError, match="different tasks"):
        language_gains([base], [treat])


def test_correlate_without_intermediate_stage_asks_for_languages(tmp_path, capsys):
    base = write_run(tmp_path / "b", 0, {"de": 80.0, "es": 81.0, "ja": 70.0})
    treat = write_run(tmp_path / "t", 0, {"de": 82.0, "es": 83.0, "ja": 75.0})
    assert main(["typology", "correlate", "--baseline", str(base), "--treatment", str(treat)]) == 2
    assert "--intermediate-languages" in capsys.readouterr().err
