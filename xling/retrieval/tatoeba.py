"""Sentence retrieval without training (Tatoeba): embed both sides, cosine nearest neighbour, both directions.

For each language, the xx sentences and their English translations are
embedded (:mod:`xling.retrieval.embed`: any layer or fusion, mean pooling) and every
sentence retrieves its nearest neighbour by cosine on the other side; a
retrieval is correct when it lands on the translation. Metrics per language:

- ``accuracy``: English queries retrieving the xx sentence (en -> xx). This is
  the direction google-research/xtreme scores (``third_party/evaluate_retrieval.py``
  indexes the xx side and searches it with the English side), so it is the primary score;
- ``accuracy_xx_to_en`` (LASER's direction) and ``accuracy_mean`` of the two.

Results are written as ``results.json`` (schema ``xling.results/1``), so
``xling report`` and suite tables read them like any run.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xling.config import _opt
from xling.data.files import read_lines
from xling.data.loading import SOURCES, find_local
from xling.errors import ConfigError, DataError, MissingDataError
from xling.kinds import get_kind
from xling.reporting.results import RESULTS_FILE, LanguageScore, Results
from xling.retrieval.options import EmbeddingConfig, embedding_results
from xling.tasks import get_task
from xling.tasks.task import Task
from xling.tasks.xtreme_r import TATOEBA_CODES

log = logging.getLogger("xling")

ISO_FROM_TATOEBA = {code3: code1 for code1, code3 in TATOEBA_CODES.items()}


@dataclass
class Bitext:
    """Line-aligned sentences of one language and their English translations."""

    lang: str
    sentences: list[str]
    english: list[str]
    source: str
    total: int

    def __len__(self) -> int:
        return len(self.sentences)


def available_languages(data_dir: str | Path) -> list[str]:
    """Every language with a ``tatoeba.xxx-eng.xxx`` file below ``data_dir``, by ISO 639-1 code where one exists."""
    found = set()
    for path in Path(data_dir).rglob("tatoeba.*-eng.*"):
        name = path.name.removesuffix(".gz")
        code3, side = name.split(".")[1].split("-")[0], name.split(".")[-1]
        if side == code3:
            found.add(ISO_FROM_TATOEBA.get(code3, code3))
    if not found:
        raise MissingDataError(f"no tatoeba.xxx-eng.xxx files below {data_dir}")
    return sorted(found)


def load_bitext(task: Task, lang: str, *, data_dir: str | Path | None = None, source: str = "auto",
                max_sentences: int | None = None, seed: int = 0) -> Bitext:
    """One language's bitext from local files (``data_dir``) or the hub; ``max_sentences`` keeps a seeded subset."""
    if source not in SOURCES:
        raise ConfigError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    if data_dir is not None and source != "hub":
        sentences, english, where = _local_bitext(task, lang, data_dir)
    elif source != "local":
        sentences, english, where = _hub_bitext(task, lang)
    else:
        raise ConfigError("--source local needs --data-dir")
    total = len(sentences)
    if max_sentences is not None and max_sentences < total:
        keep = sorted(random.Random(seed).sample(range(total), max_sentences))
        sentences, english = [sentences[i] for i in keep], [english[i] for i in keep]
    return Bitext(lang, sentences, english, where, total)


def _local_bitext(task: Task, lang: str, data_dir: str | Path) -> tuple[list[str], list[str], str]:
    match, tried = find_local(task, lang, "test", data_dir)
    if match is None:
        raise MissingDataError(f"no {task.name} data for {lang!r} below {data_dir}. Tried:\n  " + "\n  ".join(tried))
    path = match.paths[0]
    gz = path.name.endswith(".gz")
    stem = path.name.removesuffix(".gz")
    english_path = path.with_name(stem.rsplit(".", 1)[0] + ".eng" + (".gz" if gz else ""))
    if not english_path.is_file():
        raise MissingDataError(f"{path} has no English side: {english_path} is missing")
    sentences = [line for _, line in read_lines(path)]
    english = [line for _, line in read_lines(english_path)]
    if len(sentences) != len(english):
        raise DataError(f"{path} has {len(sentences)} lines but {english_path} has {len(english)}; "
                        "the two sides must be line-aligned")
    if not sentences:
        raise DataError(f"{path} is empty")
    return sentences, english, f"{path.resolve()} + {english_path.name}"


def _hub_bitext(task: Task, lang: str) -> tuple[list[str], list[str], str]:
    import datasets

    tried = []
    for hub in task.hub:
        if not hub.covers(lang, "test"):
            continue
        tried.append(hub.describe(lang, "test"))
        try:
            rows = datasets.load_dataset(hub.path, hub.config_for(lang), split=hub.splits["test"])
        except Exception as exc:  # noqa: BLE001 - network, missing config, ...
            tried[-1] += f" ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})"
            continue
        return list(rows[hub.fields["text"]]), list(rows[hub.fields["english"]]), hub.describe(lang, "test")
    raise MissingDataError(f"no {task.name} data for {lang!r} on the hub (pass --data-dir). Tried:\n  "
                           + "\n  ".join(tried or ["nothing"]))


# ---------------------------------------------------------------- scoring


def cosine_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N, d), (M, d) -> (N, M) cosine similarities (zero vectors give 0)."""
    def unit(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        norms = np.linalg.norm(a, axis=1, keepdims=True)
        return a / np.where(norms == 0, 1.0, norms)

    return unit(x) @ unit(y).T


def nearest_neighbours(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a (N_xx, N_en) similarity matrix: each xx row's nearest English column, each English column's nearest xx row."""
    return similarity.argmax(axis=1), similarity.argmax(axis=0)


def retrieval_metrics(similarity: np.ndarray) -> dict[str, float]:
    """Accuracies (percent) when row i and column i are translations of each other."""
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1] or not similarity.size:
        raise ValueError(f"retrieval needs a square, non-empty similarity matrix, got shape {similarity.shape}")
    xx_to_en, en_to_xx = nearest_neighbours(similarity)
    gold = np.arange(similarity.shape[0])
    forward, backward = 100.0 * float((en_to_xx == gold).mean()), 100.0 * float((xx_to_en == gold).mean())
    return {"accuracy": forward, "accuracy_xx_to_en": backward, "accuracy_mean": (forward + backward) / 2}


# ---------------------------------------------------------------- xling retrieve


@dataclass(frozen=True)
class RetrievalConfig(EmbeddingConfig):
    """Everything ``xling retrieve`` depends on for Tatoeba-style tasks (every field is a flag and a YAML key)."""

    data_dir: str | None = _opt(None, "folder holding tatoeba.xxx-eng.xxx files (any depth); default: the hub")
    source: str = _opt("auto", "data source: auto, local, hub")
    languages: list = _opt([], "languages, comma-separated ISO 639-1 (or Tatoeba's 3-letter codes); 'all' = every "
                               "language found in --data-dir; default: the 36 XTREME languages")
    missing_languages: str = _opt("error", "a language with no data: error or skip")
    max_sentences: int | None = _opt(None, "seeded random subset of sentence pairs per language")
    save_predictions: bool = _opt(True, "write predictions/{lang}.jsonl (nearest neighbours) with the results")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_sentences is not None and self.max_sentences < 2:
            raise ConfigError(f"max_sentences must be >= 2 or unset, got {self.max_sentences}")
        if self.missing_languages not in ("error", "skip"):
            raise ConfigError(f"missing_languages must be error or skip, got {self.missing_languages!r}")


def resolve_languages(task: Task, cfg: RetrievalConfig) -> list[str]:
    if list(cfg.languages) == ["all"]:
        if cfg.data_dir is None:
            raise ConfigError("--languages all lists the files of --data-dir; give --data-dir or a language list")
        return available_languages(cfg.data_dir)
    return list(cfg.languages) or list(task.languages)


def load_requested_bitexts(cfg: RetrievalConfig) -> tuple[dict[str, Bitext], list[str]]:
    """Every requested language's bitext (all are loaded before any encoding), and warnings for skipped ones."""
    task = get_task(cfg.task)
    if get_kind(task.kind).trainable:
        raise ConfigError(f"task {task.name!r} is not a retrieval task (kind {task.kind}); use xling train")
    bitexts, warnings = {}, []
    for lang in resolve_languages(task, cfg):
        try:
            bitexts[lang] = load_bitext(task, lang, data_dir=cfg.data_dir, source=cfg.source,
                                        max_sentences=cfg.max_sentences)
        except MissingDataError as exc:
            if cfg.missing_languages == "error":
                raise MissingDataError(f"{exc}\n(choose languages with --languages, or --missing-languages skip)") from None
            warnings.append(str(exc).splitlines()[0] + "; skipped")
            log.warning(warnings[-1])
    if not bitexts:
        raise MissingDataError(f"no language of {task.name} has data; nothing to score")
    return bitexts, warnings


def run_retrieval(cfg: RetrievalConfig) -> Results:
    """``xling retrieve``: score every language, return (and write, with ``output_dir``) the results."""
    task = get_task(cfg.task)
    bitexts, warnings = load_requested_bitexts(cfg)
    out = _prepare_output(cfg)
    encoder = cfg.sentence_encoder()
    scores: dict[str, LanguageScore] = {}
    start, sentences = time.perf_counter(), 0
    for lang, bitext in bitexts.items():
        began = time.perf_counter()
        similarity = cosine_matrix(encoder.embed(bitext.sentences, f"embed {lang}"),
                                   encoder.embed(bitext.english, f"embed {lang}-en"))
        metrics = retrieval_metrics(similarity)
        scores[lang] = LanguageScore("test", bitext.source, len(bitext), bitext.total, metrics, metrics["accuracy"],
                                     time.perf_counter() - began)
        sentences += 2 * len(bitext)
        log.info("%s %s: accuracy en->xx %.1f, xx->en %.1f (%d pairs)", task.name, lang, metrics["accuracy"],
                 metrics["accuracy_xx_to_en"], len(bitext))
        if out is not None and cfg.save_predictions:
            _write_predictions(out / "predictions" / f"{lang}.jsonl", similarity)
    seconds = time.perf_counter() - start
    return embedding_results(task, cfg, encoder, scores, warnings, seconds, sentences, out, seed=0)


def _prepare_output(cfg: RetrievalConfig) -> Path | None:
    if cfg.output_dir is None:
        return None
    out = Path(cfg.output_dir)
    if (out / RESULTS_FILE).exists():
        if not cfg.overwrite:
            raise ConfigError(f"{out} already holds results ({RESULTS_FILE}); use --overwrite or another --output-dir")
        (out / RESULTS_FILE).unlink()
        shutil.rmtree(out / "predictions", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write_predictions(path: Path, similarity: np.ndarray) -> None:
    """One line per pair i: the xx sentence English query i retrieved, and the English one xx query i retrieved."""
    path.parent.mkdir(parents=True, exist_ok=True)
    xx_to_en, en_to_xx = nearest_neighbours(similarity)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(similarity.shape[0]):
            handle.write(json.dumps({"id": i, "en_to_xx": int(en_to_xx[i]), "xx_to_en": int(xx_to_en[i])}) + "\n")
