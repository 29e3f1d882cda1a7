"""BUCC 2018 bitext mining: find the translation pairs hidden in two monolingual corpora, scored by F1.

The recipe is XTREME's (google-research/xtreme ``third_party/utils_retrieve.py``,
after LASER; Artetxe & Schwenk 2019, arXiv 1811.01136), re-implemented in numpy
with exact nearest neighbours:

- sentence vectors are L2-normalised; each xx sentence's ``k`` nearest English
  sentences by cosine, and each English sentence's ``k`` nearest xx ones (k = 4);
- ratio margin: ``score(x, y) = cos(x, y) / ((mean cos of x's k neighbours + mean
  cos of y's k neighbours) / 2)`` (``distance`` subtracts instead, ``absolute`` is the cosine);
- candidates, mode ``max`` (XTREME's default): each xx sentence's best English
  neighbour by margin and each English sentence's best xx neighbour, all sorted by
  score and kept greedily so that no sentence is used twice; scores <= 0 are
  dropped (XTREME mines with threshold 0). ``fwd``, ``bwd`` and ``intersect`` are
  XTREME's other modes;
- identical sentences are embedded once; a text that occurs more than once is
  never proposed (it has no single id), as XTREME's ``read_sent2id``;
- threshold: the best-F1 prefix of the score-sorted candidates, midway between
  its last score and the next; pairs scoring >= threshold are extracted.

Protocol: the threshold is chosen on the gold-bearing dev (BUCC "training")
portion and applied to the test portion. Where no test portion has gold (BUCC's
test gold was never public), dev is split, seeded, into a threshold-selection
part and a held-out part, disjoint by sentence ids: gold pairs are dealt whole,
the other sentences of each side one by one in the same share, so both parts
keep the corpus' density of translations; each part is mined on its own.
``f1_dev_oracle`` is what XTREME prints for dev: all of dev mined and
thresholded on its own gold (optimistic).
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xling.config import _opt, field_names, load_yaml, overrides_from_args
from xling.errors import ConfigError, DataError, MissingDataError
from xling.metrics.bitext import pair_scores
from xling.reporting.results import LanguageScore, Results
from xling.retrieval.mining import MARGINS, MODES, Pair, check_choice, extract, mine, optimise_threshold
from xling.retrieval.options import EmbeddingConfig, embedding_results

log = logging.getLogger("xling")



# ---------------------------------------------------------------- data


@dataclass
class Portion:
    """One mining problem: xx and English sentences (ids, texts) and the gold pairs (xx id, English id) among them."""

    lang: str
    source_ids: list[str]
    source: list[str]
    target_ids: list[str]
    target: list[str]
    gold: set[Pair]
    where: str

    def describe(self) -> str:
        return f"{len(self.source)} {self.lang} / {len(self.target)} en sentences, {len(self.gold)} gold pairs"


def read_sentences(path: Path) -> tuple[list[str], list[str]]:
    """``<id><TAB><sentence>`` lines -> (ids, sentences)."""
    from xling.data.files import read_lines

    rows: dict[str, str] = {}
    for number, line in read_lines(path):
        sid, tab, text = line.partition("\t")
        if not tab or not sid.strip() or sid in rows:
            raise DataError(f"{path}:{number}: expected <id><TAB><sentence> with a new id, got {line[:80]!r}")
        rows[sid] = text.strip()
    if not rows:
        raise DataError(f"{path} is empty")
    return list(rows), list(rows.values())


def read_gold(path: Path, source_ids: Iterable[str], target_ids: Iterable[str]) -> set[Pair]:
    """``<xx id><TAB><en id>`` lines naming sentences of the two text files, one-to-one (as BUCC's)."""
    from xling.data.files import read_lines

    sources, targets, gold = set(source_ids), set(target_ids), set()
    for number, line in read_lines(path):
        pair = tuple(line.split("\t"))
        if len(pair) != 2 or pair[0] not in sources or pair[1] not in targets:
            raise DataError(f"{path}:{number}: expected <xx id><TAB><en id> of sentences in the text files, "
                            f"each in one pair only; got {line[:80]!r}")
        sources.discard(pair[0])
        targets.discard(pair[1])
        gold.add(pair)
    if not gold:
        raise DataError(f"{path} has no gold pairs")
    return gold


def load_portion(task: Any, lang: str, split: str, data_dir: str | Path, *, required: bool = True) -> Portion | None:
    """``{lang}-en.{split}.{lang|en|gold}`` below ``data_dir``; None (when not ``required``) if it or its gold is missing."""
    from xling.data.loading import find_local

    match, tried = find_local(task, lang, split, data_dir)
    if match is None:
        if not required:
            return None
        raise MissingDataError(f"no {task.name} {split} data for {lang!r} below {data_dir}. Tried:\n  " + "\n  ".join(tried))
    path = match.paths[0]
    gz = ".gz" if path.name.endswith(".gz") else ""
    stem = path.name.removesuffix(gz).rsplit(".", 1)[0]
    english, gold_path = path.with_name(f"{stem}.en{gz}"), path.with_name(f"{stem}.gold{gz}")
    for needed in (english, gold_path):
        if not needed.is_file():
            if not required and needed == gold_path:
                return None
            raise MissingDataError(f"{path} has no {'English side' if needed == english else 'gold pairs'}: "
                                   f"{needed} is missing")
    (source_ids, source), (target_ids, target) = read_sentences(path), read_sentences(english)
    return Portion(lang, source_ids, source, target_ids, target, read_gold(gold_path, source_ids, target_ids),
                   str(path.resolve().with_name(stem)) + f".{{{lang},en,gold}}")


def split_portion(portion: Portion, share: float, seed: int) -> tuple[Portion, Portion]:
    """(selection part, held-out part), disjoint by sentence ids; see the module docstring."""
    rng = random.Random(seed)
    pairs = sorted(portion.gold)  # one-to-one (read_gold checks), so a pair can be dealt whole
    rng.shuffle(pairs)
    chosen = set(pairs[:round(share * len(pairs))])
    if not chosen or chosen == portion.gold:
        raise ConfigError(f"selection_share {share} of {len(pairs)} gold pairs leaves a part without gold pairs")

    def deal(ids: list[str], side: int) -> set[str]:
        in_gold = {pair[side] for pair in portion.gold}
        others = [i for i in ids if i not in in_gold]
        rng.shuffle(others)
        return {pair[side] for pair in chosen} | set(others[:round(share * len(others))])

    keep = deal(portion.source_ids, 0), deal(portion.target_ids, 1)

    def part(selected: bool, name: str) -> Portion:
        src = [i for i, sid in enumerate(portion.source_ids) if (sid in keep[0]) == selected]
        trg = [j for j, tid in enumerate(portion.target_ids) if (tid in keep[1]) == selected]
        return Portion(portion.lang, [portion.source_ids[i] for i in src], [portion.source[i] for i in src],
                       [portion.target_ids[j] for j in trg], [portion.target[j] for j in trg],
                       chosen if selected else portion.gold - chosen, f"{portion.where} ({name}, seed {seed})")

    return part(True, "selection part"), part(False, "held-out part")


def mine_portion(portion: Portion, x: np.ndarray, y: np.ndarray, **options: Any) -> dict[Pair, float]:
    """Candidates of a portion by sentence ids -> score; ``x``/``y`` hold one vector per sentence (row-aligned)."""
    def unique(texts: list[str]) -> tuple[list[int], Counter]:
        first: dict[str, int] = {}
        for i, text in enumerate(texts):
            first.setdefault(text, i)
        return list(first.values()), Counter(texts)

    src_rows, src_count = unique(portion.source)
    trg_rows, trg_count = unique(portion.target)
    candidates: dict[Pair, float] = {}
    for a, b, score in mine(x[src_rows], y[trg_rows], **options):
        i, j = src_rows[a], trg_rows[b]
        if src_count[portion.source[i]] > 1 or trg_count[portion.target[j]] > 1:
            continue  # a repeated text has no single id
        pair = (portion.source_ids[i], portion.target_ids[j])
        candidates[pair] = max(score, candidates.get(pair, score))
    return candidates


# ---------------------------------------------------------------- xling retrieve --task bucc


@dataclass(frozen=True)
class BuccConfig(EmbeddingConfig):
    """``xling retrieve --task bucc`` (every field is a flag and a YAML key)."""

    task: str = _opt("bucc", "mining task")
    data_dir: str | None = _opt(None, "folder holding {xx}-en.{dev,test}.{xx,en,gold} files (any depth)")
    languages: list = _opt([], "languages; default: every BUCC language with a dev portion in --data-dir")
    neighbourhood: int = _opt(4, "bucc: k nearest neighbours of the margin (XTREME: 4)")
    candidates: str = _opt("max", "bucc: candidate mode: max (XTREME's), intersect, fwd, bwd")
    margin: str = _opt("ratio", "bucc: margin: ratio (XTREME's), distance, absolute")
    seed: int = _opt(0, "bucc: seed of the split of dev into selection / held-out parts (when no test gold)")
    selection_share: float = _opt(0.5, "bucc: share of dev used to choose the threshold (when no test gold)")
    save_predictions: bool = _opt(True, "write predictions/{lang}.tsv (extracted pairs of the scored part)")

    def __post_init__(self) -> None:
        if self.data_dir is None:
            raise ConfigError("--task bucc reads local files: give --data-dir (a folder with zh-en.dev.zh, ...)")
        super().__post_init__()
        if self.neighbourhood < 1:
            raise ConfigError(f"neighbourhood must be >= 1, got {self.neighbourhood}")
        if not 0 < self.selection_share < 1:
            raise ConfigError(f"selection_share must be between 0 and 1, got {self.selection_share}")
        check_choice("candidates", self.candidates, MODES)
        check_choice("margin", self.margin, tuple(MARGINS))


def config_from_args(args: argparse.Namespace, other: type) -> BuccConfig | None:
    """The BUCC config when ``xling retrieve`` asks for task bucc (flag or YAML), else None.

    ``other`` is the retrieval config class; a flag that only one of the two tasks has is an error for the other.
    """
    task = getattr(args, "task", None) or (load_yaml(args.config).get("task") if args.config else None)
    mine_it = task == "bucc"
    own, foreign = (BuccConfig, other) if mine_it else (other, BuccConfig)
    stray = [name for name in set(field_names(foreign)) - set(field_names(own)) if hasattr(args, name)]
    if stray:
        flags = ", ".join("--" + name.replace("_", "-") for name in sorted(stray))
        raise ConfigError(f"{flags}: not an option of --task {task or 'tatoeba'}")
    if not mine_it:
        return None
    from xling.config import make_config

    return make_config(BuccConfig, args.config, overrides_from_args(args, BuccConfig))


def _score_language(task: Any, lang: str, cfg: BuccConfig, encoder: Any, out: Path | None,
                    warnings: list[str]) -> tuple[LanguageScore, int]:
    dev = load_portion(task, lang, "dev", cfg.data_dir)
    test = load_portion(task, lang, "test", cfg.data_dir, required=False)
    if test is None:
        selection, held_out = split_portion(dev, cfg.selection_share, cfg.seed)
        protocol = f"threshold from a seeded {cfg.selection_share:g} share of dev ({selection.describe()})"
    else:
        selection, held_out = dev, test
        protocol = f"threshold from dev ({dev.describe()})"
    began = time.perf_counter()
    xx = dict.fromkeys(s for p in (dev, test or dev) for s in p.source)  # each distinct sentence embedded once
    en = dict.fromkeys(t for p in (dev, test or dev) for t in p.target)
    xx = dict(zip(xx, encoder.embed(list(xx), f"embed {lang}")))
    en = dict(zip(en, encoder.embed(list(en), f"embed {lang}-en")))
    embedded = time.perf_counter()
    options = {"k": cfg.neighbourhood, "mode": cfg.candidates, "margin": cfg.margin}

    def candidates(portion: Portion) -> dict[Pair, float]:
        return mine_portion(portion, np.array([xx[s] for s in portion.source]),
                            np.array([en[t] for t in portion.target]), **options)

    chosen = candidates(selection)
    threshold = optimise_threshold(chosen, selection.gold)
    if not selection.gold & set(chosen):
        warnings.append(f"{lang}: no gold pair among the selection part's candidates; threshold 0 (as XTREME)")
        log.warning(warnings[-1])
    mined = candidates(held_out)
    extracted = extract(mined, threshold)
    metrics = {**pair_scores(extracted, held_out.gold), "threshold": threshold,
               "selection_f1": pair_scores(extract(chosen, threshold), selection.gold)["f1"]}
    whole = chosen if test is not None else candidates(dev)
    metrics["f1_dev_oracle"] = pair_scores(extract(whole, optimise_threshold(whole, dev.gold)), dev.gold)["f1"]
    log.info("bucc %s: F1 %.2f (P %.2f, R %.2f) at threshold %.4f; %s (embedding %.1fs, mining %.1fs)", lang,
             metrics["f1"], metrics["precision"], metrics["recall"], threshold, protocol, embedded - began,
             time.perf_counter() - embedded)
    if out is not None and cfg.save_predictions:
        _write_predictions(out / "predictions" / f"{lang}.tsv", extracted, held_out.gold)
    source = f"{held_out.where}: {held_out.describe()}; {protocol}"
    score = LanguageScore("test" if test is not None else "dev", source, len(held_out.gold), len(dev.gold),
                          metrics, metrics["f1"], time.perf_counter() - began)
    return score, len(xx) + len(en)


def _languages(task: Any, cfg: BuccConfig) -> list[str]:
    if cfg.languages:
        return list(cfg.languages)
    from xling.data.loading import find_local

    found = [lang for lang in task.languages if find_local(task, lang, "dev", cfg.data_dir)[0] is not None]
    if not found:
        raise MissingDataError(f"no BUCC dev portion ({{xx}}-en.dev.{{xx}}, xx in {' '.join(task.languages)}) "
                               f"below {cfg.data_dir}")
    return found


def run_bucc(cfg: BuccConfig, encoder: Any = None) -> Results:
    """Mine and score every language; return (and write, with ``output_dir``) the results.

    ``encoder`` (anything with the :class:`xling.retrieval.embed.SentenceEncoder` interface) replaces the one
    ``cfg`` describes; tests pass fixed vectors this way.
    """
    from xling.retrieval.tatoeba import _prepare_output  # same output-dir rules as xling retrieve
    from xling.tasks import get_task

    task = get_task(cfg.task)
    languages = _languages(task, cfg)
    out = _prepare_output(cfg)
    if encoder is None:
        encoder = cfg.sentence_encoder()
    scores, warnings, sentences, start = {}, [], 0, time.perf_counter()
    for lang in languages:
        scores[lang], embedded = _score_language(task, lang, cfg, encoder, out, warnings)
        sentences += embedded
    seconds = time.perf_counter() - start
    return embedding_results(task, cfg, encoder, scores, warnings, seconds, sentences, out, seed=cfg.seed)


def summary(results: Results) -> str:
    """One line per language: F1, precision, recall, threshold (what the table leaves out)."""
    return "".join(f"{lang}: F1 {s.metrics['f1']:.2f}, P {s.metrics['precision']:.2f}, R {s.metrics['recall']:.2f}, "
                   f"threshold {s.metrics['threshold']:.4f} ({s.examples} gold pairs scored; dev oracle F1 "
                   f"{s.metrics['f1_dev_oracle']:.2f})\n" for lang, s in results.languages.items())


def _write_predictions(path: Path, extracted: dict[Pair, float], gold: set[Pair]) -> None:
    """Extracted pairs, best first: xx id, English id, margin score, 1 if a gold pair."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(extracted.items(), key=lambda item: -item[1])
    path.write_text("".join(f"{s}\t{t}\t{score:.6f}\t{int((s, t) in gold)}\n" for (s, t), score in rows),
                    encoding="utf-8")
