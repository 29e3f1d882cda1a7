"""URIEL typological distances between languages, via lang2vec.

Cosine distances between complete lang2vec feature vectors, as the URIEL paper
and lang2vec's former ``distance`` helper computed them. lang2vec is imported
lazily (~2 s); vectors are cached per (language, feature set) and misses are
fetched in one batch, since each "fam" read costs ~3 s whatever the languages.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from xling.errors import XlingError

DISTANCE_KINDS: dict[str, str] = {
    "syntactic": "syntax_knn",
    "phonological": "phonology_knn",
    "inventory": "inventory_knn",
    "genetic": "fam",
    "geographic": "geo",
}

# Macrolanguages that lang2vec's URIEL list lacks (or that carry only a coarse
# family vector) -> the individual language XTREME/Tatoeba data is written in.
MACROLANGUAGES: dict[str, str] = {
    "zho": "cmn",  # Chinese -> Mandarin (fam "zho" is just Sino-Tibetan)
    "ara": "arb",  # Arabic -> Standard Arabic
    "fas": "pes",  # Persian -> Iranian Persian
    "msa": "zsm",  # Malay -> Standard Malay
    "swa": "swh",  # Swahili -> Swahili (individual language)
    "aze": "azj",  # Azerbaijani -> North Azerbaijani
    "uzb": "uzn",  # Uzbek -> Northern Uzbek
    "sqi": "als",  # Albanian -> Tosk (standard) Albanian
    "mon": "khk",  # Mongolian -> Halh Mongolian
    "grn": "gug",  # Guarani -> Paraguayan Guarani
    "que": "quz",  # Quechua -> Cusco Quechua (no family vector for "que")
}

# Codes lang2vec's letter-code table does not know.
ALIASES: dict[str, str] = {
    "iw": "heb", "in": "ind", "ji": "yid", "jw": "jav", "mo": "ron",  # old ISO 639-1
    "fil": "tgl",  # Filipino: XTREME uses "tl"
}


class TypologyError(XlingError, ValueError):
    """Invalid input for a typology computation."""


class UnknownLanguageError(TypologyError):
    """A language code has no URIEL entry."""


@functools.lru_cache(maxsize=1)
def _l2v() -> ModuleType:
    """Import lang2vec once, silencing its pkg_resources deprecation warning.

    lang2vec also installs a ``bin/lang2vec.py`` script; console scripts
    (``pytest``, ``xling``) run with bin/ first on sys.path, where that script
    shadows the package, so bin/ is left out of sys.path for the import.
    """
    spec = importlib.util.find_spec("lang2vec")
    saved = list(sys.path)
    if spec is not None and spec.submodule_search_locations is None and spec.origin:
        shadow_dir = os.path.realpath(os.path.dirname(spec.origin))
        sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != shadow_dir]
    from xling.extras import require

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pkg_resources.*")
            return require("lang2vec.lang2vec", "typology", "URIEL typological distances")
    finally:
        sys.path[:] = saved


@functools.lru_cache(maxsize=1)
def _known_iso3() -> frozenset[str]:
    """ISO 639-3 codes with URIEL vectors (all lang2vec .npz files share them).

    ``l2v.available_languages()`` under-reports: its mask runs over the wrong
    axis, so it returns the first 3718 languages plus the 'learned' ones.
    """
    path = os.path.join(os.path.dirname(_l2v().__file__), "data", "feature_predictions.npz")
    with np.load(path) as db:
        return frozenset(str(code) for code in db["langs"])


@functools.lru_cache(maxsize=1)
def _letter_codes() -> dict[str, str]:
    """lang2vec's two- and three-letter code table plus our ALIASES."""
    return {**_l2v().LETTER_CODES, **ALIASES}


def to_iso3(code: str) -> str:
    """Map an ISO 639-1/639-3 or XTREME code (region tags ignored) to lang2vec's code."""
    key = code.strip().lower().replace("_", "-").split("-")[0]
    iso3 = _letter_codes().get(key, key)
    iso3 = MACROLANGUAGES.get(iso3, iso3)
    if iso3 not in _known_iso3():
        pool = sorted(_letter_codes()) + sorted(_known_iso3())
        close = difflib.get_close_matches(key, pool, n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownLanguageError(f"unknown language code {code!r} (no URIEL vector){hint}")
    return iso3


def _feature_set(kind: str) -> str:
    """lang2vec feature-set name of a distance kind."""
    if kind not in DISTANCE_KINDS:
        choices = ", ".join(DISTANCE_KINDS)
        raise TypologyError(f"unknown distance kind {kind!r}; choose from {choices}")
    return DISTANCE_KINDS[kind]


def parse_kinds(text: str) -> list[str]:
    """Distance kinds from ``"all"`` or a comma-separated list, checked."""
    kinds = list(DISTANCE_KINDS) if text.strip() == "all" else [k.strip() for k in text.split(",") if k.strip()]
    if not kinds:
        raise TypologyError(f"no distance kind given; choose from {', '.join(DISTANCE_KINDS)} or all")
    for kind in kinds:
        _feature_set(kind)
    return kinds


_CACHE: dict[tuple[str, str], np.ndarray] = {}


def _vectors(iso3s: Iterable[str], feature_set: str) -> list[np.ndarray]:
    """Cached vectors for ISO 639-3 codes; uncached ones are fetched in one call."""
    iso3s = list(iso3s)
    missing = sorted({c for c in iso3s if (c, feature_set) not in _CACHE})
    if missing:
        fetched = _l2v().get_features(missing, feature_set)
        for code in missing:
            values = fetched[code]
            if any(isinstance(v, str) for v in values):  # "--" marks a missing value
                raise TypologyError(f"{code} has missing values in lang2vec set {feature_set!r}")
            vec = np.asarray(values, dtype=np.float64)
            vec.setflags(write=False)
            _CACHE[(code, feature_set)] = vec
    return [_CACHE[(c, feature_set)] for c in iso3s]


def feature_vectors(langs: Sequence[str], kind: str) -> dict[str, np.ndarray]:
    """URIEL vectors of a distance kind, keyed by the caller's codes."""
    feature_set = _feature_set(kind)
    iso3s = [to_iso3(lang) for lang in langs]
    return dict(zip(langs, _vectors(iso3s, feature_set)))


def _cosine_distance(u: np.ndarray, v: np.ndarray) -> float:
    """1 - cos(u, v) in [0, 2]; 1.0 for an all-zero vector ("fam" of isolates such as eus)."""
    norm = float(np.linalg.norm(u) * np.linalg.norm(v))
    if norm == 0.0:
        return 1.0
    return float(np.clip(1.0 - float(u @ v) / norm, 0.0, 2.0))


def _matrix(iso3s: Sequence[str], kind: str) -> np.ndarray:
    vecs = _vectors(iso3s, _feature_set(kind))
    n = len(iso3s)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            d = 0.0 if iso3s[i] == iso3s[j] else _cosine_distance(vecs[i], vecs[j])
            out[i, j] = out[j, i] = d
    return out


def distance(a: str, b: str, kind: str = "syntactic") -> float:
    """Cosine distance in [0, 2] between two languages' URIEL vectors."""
    return float(_matrix([to_iso3(a), to_iso3(b)], kind)[0, 1])


@dataclass(frozen=True, eq=False)
class DistanceMatrix:
    """Symmetric matrix of one distance kind; ``values[i, j]`` is langs[i] to langs[j]."""

    langs: tuple[str, ...]
    kind: str
    values: np.ndarray

    def __getitem__(self, pair: tuple[str, str]) -> float:
        i, j = (self.langs.index(lang) for lang in pair)
        return float(self.values[i, j])

    def to_rows(self, digits: int = 3) -> list[list[str]]:
        """Header row (kind, langs...) then one row per language, values rounded."""
        rows = [[self.kind, *self.langs]]
        for lang, row in zip(self.langs, self.values):
            rows.append([lang, *(f"{v:.{digits}f}" for v in row)])
        return rows

    def format(self, fmt: str = "markdown", digits: int = 3) -> str:
        """Render as a "markdown" table or "csv" text."""
        rows = self.to_rows(digits)
        if fmt == "csv":
            return "\n".join(",".join(row) for row in rows) + "\n"
        if fmt == "markdown":
            lines = ["| " + " | ".join(row) + " |" for row in rows]
            lines.insert(1, "|" + "|".join(["---"] + ["---:"] * len(self.langs)) + "|")
            return "\n".join(lines) + "\n"
        raise TypologyError(f"unknown format {fmt!r}; choose markdown or csv")


def distance_matrix(
    langs: Sequence[str], kinds: Sequence[str] | None = None
) -> dict[str, DistanceMatrix]:
    """Pairwise distances of ``langs`` for each kind (default: all of DISTANCE_KINDS)."""
    iso3s = [to_iso3(lang) for lang in langs]
    result = {}
    for kind in kinds or list(DISTANCE_KINDS):
        values = _matrix(iso3s, kind)
        values.setflags(write=False)
        result[kind] = DistanceMatrix(tuple(langs), kind, values)
    return result


def _distances_from(target: str, langs: Sequence[str], kind: str) -> list[float]:
    if not langs:
        raise TypologyError("need at least one language to compare with")
    iso3s = [to_iso3(target)] + [to_iso3(lang) for lang in langs]
    return [float(d) for d in _matrix(iso3s, kind)[0, 1:]]


def nearest(
    target: str, candidates: Sequence[str], kind: str = "syntactic", k: int = 3
) -> list[tuple[str, float]]:
    """The ``k`` candidates closest to ``target``, nearest first (ties keep input order).

    A candidate that is the target itself is kept, at distance 0.
    """
    if k < 1:
        raise TypologyError(f"k must be at least 1, got {k}")
    dists = _distances_from(target, candidates, kind)
    ranked = sorted(zip(candidates, dists), key=lambda pair: pair[1])
    return ranked[:k]


def distance_to_set(
    target: str, langs: Sequence[str], kind: str = "syntactic", reduce: str = "min"
) -> float:
    """Distance of ``target`` to a set of languages: the nearest ("min") or the "mean"."""
    if reduce not in ("min", "mean"):
        raise TypologyError(f"reduce must be 'min' or 'mean', got {reduce!r}")
    dists = _distances_from(target, langs, kind)
    return min(dists) if reduce == "min" else float(np.mean(dists))


def _stats() -> ModuleType:
    from xling.extras import require

    return require("scipy.stats", "typology", "gain-distance correlations")


def partial_pearson(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Pearson r of ``x`` and ``y`` after regressing both linearly on ``z``, and its two-sided p (n − 3 df)."""
    stats = _stats()

    design = np.column_stack([np.ones_like(z), z])
    rx = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    ry = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    if np.allclose(rx, 0) or np.allclose(ry, 0):
        return float("nan"), float("nan")
    r = float(np.clip(np.corrcoef(rx, ry)[0, 1], -1.0, 1.0))
    df = len(x) - 3
    if df < 1:
        return r, float("nan")
    t = r * np.sqrt(df / max(1e-300, 1.0 - r * r))
    return r, float(2 * stats.t.sf(abs(t), df))


def correlate(gains: Mapping[str, float], distances: Mapping[str, float],
              control: Mapping[str, float] | None = None) -> dict[str, object]:
    """Pearson/Spearman of gains vs distances over common keys (non-finite values skipped).

    With ``control`` (per language, e.g. the baseline score) also the partial Pearson correlation with
    the control regressed out: gains are treatment − baseline, so languages with a high baseline tend
    to gain less (regression to the mean, and less headroom), and when distance to English tracks the
    baseline, a raw gain-distance correlation can be nothing but that.
    """
    stats = _stats()

    langs = [g for g in gains if g in distances and np.isfinite([gains[g], distances[g]]).all()
             and (control is None or (g in control and np.isfinite(control[g])))]
    if len(langs) < 3:
        raise TypologyError(
            f"need at least 3 languages with both a gain and a distance, got {len(langs)}: {langs}")
    x = np.array([distances[lang] for lang in langs], dtype=np.float64)
    y = np.array([gains[lang] for lang in langs], dtype=np.float64)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise TypologyError("correlation is undefined: gains or distances are constant")
    pearson = stats.pearsonr(x, y)
    spearman = stats.spearmanr(x, y)
    result: dict[str, object] = {
        "pearson_r": float(pearson[0]),
        "pearson_p": float(pearson[1]),
        "spearman_rho": float(spearman[0]),
        "spearman_p": float(spearman[1]),
        "n": len(langs),
        "langs": langs,
    }
    if control is not None:
        z = np.array([control[lang] for lang in langs], dtype=np.float64)
        result["partial_r"], result["partial_p"] = partial_pearson(x, y, z)
    return result


# ---------------------------------------------------------------- transfer gains against distance


def language_gains(baseline: Sequence[Any], treatment: Sequence[Any],
                   languages: Sequence[str] | None = None) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Per language: mean baseline and treatment score over their runs (seeds) and the gain.

    ``baseline`` and ``treatment`` are :class:`xling.reporting.results.Results` of one task. Returns the
    gains and the languages left out because only one side scored them. A language scored on
    different splits by the two sides is an error: its gain would compare different data.
    """
    runs = [*baseline, *treatment]
    if not baseline or not treatment:
        raise TypologyError("need at least one baseline and one treatment run")
    tasks = {(r.task["name"], r.primary_metric) for r in runs}
    if len(tasks) > 1:
        raise TypologyError(f"runs of different tasks or metrics cannot be compared: {sorted(tasks)}")
    order = [lang for r in runs for lang in r.languages]
    wanted = list(languages) if languages else list(dict.fromkeys(order))
    gains: dict[str, dict[str, float]] = {}
    skipped = []
    for lang in wanted:
        base = [r.languages[lang] for r in baseline if lang in r.languages]
        treat = [r.languages[lang] for r in treatment if lang in r.languages]
        if not base or not treat:
            skipped.append(lang)
            continue
        splits = {s.split for s in base + treat}
        if len(splits) > 1:
            raise TypologyError(f"{lang} was scored on different splits ({', '.join(sorted(splits))}); "
                                "its gain would compare different data")
        b, t = float(np.mean([s.primary for s in base])), float(np.mean([s.primary for s in treat]))
        gains[lang] = {"baseline": b, "treatment": t, "gain": t - b,
                       "baseline_runs": len(base), "treatment_runs": len(treat)}
    return gains, skipped


def gain_distance_study(
    gains: Mapping[str, float], reference_langs: Sequence[str], kinds: Sequence[str] = ("syntactic",),
    reduce: str = "min", control: Mapping[str, float] | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, object]]]:
    """Distance of each language to ``reference_langs`` per kind, and correlate() of gains with it per kind
    (with ``control``, e.g. the baseline scores, also the partial correlation; see :func:`correlate`)."""
    for kind in kinds:  # fetch every vector in one lang2vec call per kind (each call costs seconds)
        feature_vectors(list(dict.fromkeys([*gains, *reference_langs])), kind)
    distances = {lang: {kind: distance_to_set(lang, reference_langs, kind, reduce) for kind in kinds}
                 for lang in gains}
    correlations = {kind: correlate(gains, {lang: d[kind] for lang, d in distances.items()}, control)
                    for kind in kinds}
    return distances, correlations
