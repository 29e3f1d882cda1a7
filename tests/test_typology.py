"""Tests for xling.studies.typology (offline: lang2vec ships its URIEL data)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from xling.studies import typology
from xling.errors import XlingError
from xling.studies.typology import (
    DISTANCE_KINDS,
    DistanceMatrix,
    TypologyError,
    UnknownLanguageError,
    correlate,
    distance,
    distance_matrix,
    distance_to_set,
    feature_vectors,
    nearest,
    to_iso3,
)

LANGS = ["en", "de", "nl", "ja", "zh", "eu", "es"]


@pytest.fixture(scope="module", autouse=True)
def warm_cache() -> dict[str, DistanceMatrix]:
    """Load lang2vec (~2 s) and every vector the tests need once (~3 s, mostly "fam")."""
    return distance_matrix(LANGS)


@pytest.mark.parametrize(
    ("code", "iso3"),
    [
        ("de", "deu"), ("en", "eng"), ("ja", "jpn"), ("deu", "deu"), ("DE", "deu"),
        ("pt-BR", "por"), ("zh_Hans", "cmn"), ("iw", "heb"), ("tl", "tgl"),
        # macrolanguages -> the individual language XTREME data is in
        ("zh", "cmn"), ("zho", "cmn"), ("ar", "arb"), ("fa", "pes"), ("ms", "zsm"),
        ("sw", "swh"), ("az", "azj"), ("qu", "quz"),
        # lang2vec's own table: "est" has a family vector, "ekk" does not
        ("et", "est"),
    ],
)
def test_to_iso3(code: str, iso3: str) -> None:
    assert to_iso3(code) == iso3


def test_unknown_code_names_code_and_suggests() -> None:
    with pytest.raises(UnknownLanguageError, match=r"'deuu'.*deu") as info:
        to_iso3("deuu")
    assert isinstance(info.value, ValueError) and isinstance(info.value, XlingError)


def test_unknown_code_in_distance() -> None:
    with pytest.raises(UnknownLanguageError, match="'klingon'"):
        distance("de", "klingon")


def test_unknown_kind() -> None:
    with pytest.raises(TypologyError, match="syntactic"):
        distance("de", "nl", kind="lexical")


def test_feature_vectors_keyed_by_caller_codes() -> None:
    vecs = feature_vectors(["de", "nld"], "syntactic")
    assert list(vecs) == ["de", "nld"]
    assert vecs["de"].shape == vecs["nld"].shape == (103,)  # 103 syntax_knn features
    assert set(np.unique(vecs["de"])) <= {0.0, 1.0}


@pytest.mark.parametrize("kind", list(DISTANCE_KINDS))
def test_self_distance_zero_and_symmetry(kind: str) -> None:
    assert distance("de", "deu", kind) == pytest.approx(0.0, abs=1e-12)
    assert distance("de", "ja", kind) == pytest.approx(distance("ja", "de", kind))
    assert 0.0 <= distance("en", "zh", kind) <= 2.0


def test_german_syntactically_closer_to_dutch_than_japanese() -> None:
    assert distance("de", "nl", "syntactic") < distance("de", "ja", "syntactic")


def test_genetic_en_de_closer_than_en_zh() -> None:
    assert distance("en", "de", "genetic") < distance("en", "zh", "genetic")


def test_isolate_has_unit_genetic_distance() -> None:
    # Basque's "fam" vector is all zeros: no shared ancestor with anything.
    assert distance("eu", "es", "genetic") == 1.0


def test_nearest_ordering() -> None:
    result = nearest("de", ["ja", "zh", "nl", "en"], kind="syntactic", k=2)
    assert [lang for lang, _ in result] == ["nl", "en"]
    assert result[0][1] == pytest.approx(distance("de", "nl"))
    everything = nearest("de", ["ja", "zh", "nl", "en"], k=10)
    dists = [d for _, d in everything]
    assert len(everything) == 4 and dists == sorted(dists)


def test_nearest_rejects_bad_k_and_empty() -> None:
    with pytest.raises(TypologyError):
        nearest("de", ["nl"], k=0)
    with pytest.raises(TypologyError):
        nearest("de", [])


def test_distance_matrix_shape_diagonal_symmetry(warm_cache: dict[str, DistanceMatrix]) -> None:
    assert set(warm_cache) == set(DISTANCE_KINDS)
    for kind, matrix in warm_cache.items():
        assert matrix.kind == kind and matrix.langs == tuple(LANGS)
        assert matrix.values.shape == (len(LANGS), len(LANGS))
        assert np.allclose(np.diag(matrix.values), 0.0)
        assert np.allclose(matrix.values, matrix.values.T)
    assert warm_cache["syntactic"]["de", "ja"] == pytest.approx(distance("de", "ja"))


def test_distance_matrix_selected_kinds_and_format() -> None:
    matrices = distance_matrix(["de", "nl", "ja"], kinds=["syntactic"])
    assert list(matrices) == ["syntactic"]
    matrix = matrices["syntactic"]
    rows = matrix.to_rows(digits=2)
    assert rows[0] == ["syntactic", "de", "nl", "ja"] and rows[1][:2] == ["de", "0.00"]
    csv = matrix.format("csv").splitlines()
    assert len(csv) == 4 and csv[0] == "syntactic,de,nl,ja"
    markdown = matrix.format("markdown").splitlines()
    assert len(markdown) == 5 and markdown[0].startswith("| syntactic |")
    with pytest.raises(TypologyError):
        matrix.format("html")


def test_distance_to_set() -> None:
    d_nl, d_ja = distance("de", "nl"), distance("de", "ja")
    assert distance_to_set("de", ["ja", "nl"]) == pytest.approx(min(d_nl, d_ja))
    assert distance_to_set("de", ["ja", "nl"], reduce="mean") == pytest.approx((d_nl + d_ja) / 2)
    with pytest.raises(TypologyError, match="reduce"):
        distance_to_set("de", ["nl"], reduce="max")


def test_correlate_hand_computed() -> None:
    # Common languages a..d ("e" has no distance and is ignored).
    # x = distances (4, 3, 1, 0), mean 2   -> deviations ( 2,  1, -1, -2), Sxx = 10
    # y = gains     (1, 2, 3, 4), mean 2.5 -> deviations (-1.5, -.5, .5, 1.5), Syy = 5
    # Sxy = -3 - 0.5 - 0.5 - 3 = -7  ->  r = -7 / sqrt(10 * 5) = -0.98995
    # Ranks: x (4, 3, 2, 1), y (1, 2, 3, 4): perfectly reversed -> rho = -1
    gains = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 9.0}
    dists = {"d": 0.0, "c": 1.0, "b": 3.0, "a": 4.0}
    result = correlate(gains, dists)
    assert result["n"] == 4 and result["langs"] == ["a", "b", "c", "d"]
    assert result["pearson_r"] == pytest.approx(-7 / math.sqrt(50))
    assert result["spearman_rho"] == pytest.approx(-1.0)
    assert 0.0 <= result["pearson_p"] < 0.05
    assert 0.0 <= result["spearman_p"] <= 1.0


def test_correlate_partial_holds_the_control_fixed() -> None:
    # z = baseline (0..4); e1 = (1, -2, 0, 2, -1) and q = (2, -1, -2, -1, 2) are orthogonal to 1, z and each other.
    # distance x = z + e1, gain y = -z + e1 + q: raw cov = -Szz + |e1|^2 = -10 + 10 = 0, so r = 0;
    # with z regressed out the residuals are e1 and e1 + q: r = |e1|^2 / (|e1| |e1 + q|) = sqrt(10 / 24).
    langs = "abcde"
    z, e1, q = [0, 1, 2, 3, 4], [1, -2, 0, 2, -1], [2, -1, -2, -1, 2]
    dists = {lang: float(z[i] + e1[i]) for i, lang in enumerate(langs)}
    gains = {lang: float(-z[i] + e1[i] + q[i]) for i, lang in enumerate(langs)}
    result = correlate(gains, dists, control={lang: float(z[i]) for i, lang in enumerate(langs)})
    r = math.sqrt(10 / 24)
    assert result["pearson_r"] == pytest.approx(0.0, abs=1e-12)
    assert result["partial_r"] == pytest.approx(r)
    t = r * math.sqrt(2 / (1 - r * r))  # n - 3 = 2 degrees of freedom
    assert result["partial_p"] == pytest.approx(2 * scipy_stats.t.sf(t, 2))
    assert "partial_r" not in correlate(gains, dists)


def test_correlate_needs_three_languages() -> None:
    with pytest.raises(TypologyError, match="at least 3"):
        correlate({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 0.1, "b": 0.2, "x": 0.3})


def test_correlate_skips_nan_and_rejects_constant() -> None:
    with pytest.raises(TypologyError, match="at least 3"):
        correlate({"a": 1.0, "b": 2.0, "c": float("nan")}, {"a": 0.1, "b": 0.2, "c": 0.3})
    with pytest.raises(TypologyError, match="constant"):
        correlate({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 0.1, "b": 0.2, "c": 0.3})


def test_vectors_are_cached_read_only() -> None:
    vec = feature_vectors(["de"], "genetic")["de"]
    assert ("deu", "fam") in typology._CACHE
    with pytest.raises(ValueError):
        vec[0] = 5.0
