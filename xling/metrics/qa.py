"""Extractive-QA scoring (exact match and token F1) matching the official scripts.

Three normalisation modes, each registered as metric ``qa_<mode>``:

* ``"squad"`` -- SQuAD v1.1 ``evaluate-v1.1.py``, which google-research/xtreme
  uses for XQuAD and TyDiQA-GoldP. ``lang`` is ignored: every language gets
  English article removal and whitespace tokenisation (so e.g. an unspaced
  Chinese answer is a single token and its F1 is close to EM).
* ``"mlqa"`` -- ``mlqa_evaluation_v1.py`` (facebookresearch/MLQA), which XTREME
  runs for MLQA, verbatim: per-language articles, mixed segmentation for
  Chinese, and its Arabic quirk (every ``ال`` is replaced, even inside a word).
  Like the script, it refuses languages it has no rule for.
* ``"mlqa_word_initial"`` -- the same, except that Arabic ``ال`` is removed only
  where it starts a word (what the official pattern was evidently meant to do),
  and unknown languages get no articles and whitespace tokens. Its Arabic
  scores are not comparable with published MLQA / XTREME numbers.

All modes apply the steps in the official order:
lower-case -> remove punctuation -> remove articles -> tokenise.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence

from xling.errors import XlingError
from xling.metrics import METRICS, Metric

MODES = ("squad", "mlqa", "mlqa_word_initial")
# the languages mlqa_evaluation_v1.py has rules for (it raises on any other)
MLQA_LANGUAGES = ("ar", "de", "en", "es", "hi", "vi", "zh")

_MLQA_COMMON = (
    "lower-case; drop Unicode category P and string.punctuation; drop whole-word articles "
    "(en a/an/the, es, de, vi lists; hi, zh none); zh: one token per CJK char U+4E00-U+9FA5, "
    "other runs whitespace-split; others: whitespace tokens"
)
QA_NORMALISATION: dict[str, str] = {
    "squad": (
        "SQuAD v1.1 evaluate script (XTREME XQuAD/TyDiQA-GoldP): lower-case; drop "
        "string.punctuation; drop whole-word a/an/the; whitespace tokens"
    ),
    "mlqa": (
        "MLQA mlqa_evaluation_v1.py verbatim (as XTREME): " + _MLQA_COMMON + "; ar: every 'ال' "
        "replaced by a space, inside words too (the official regex's quirk); languages other "
        "than " + " ".join(MLQA_LANGUAGES) + " are an error"
    ),
    "mlqa_word_initial": (
        "MLQA normalisation with Arabic corrected, not the official script: " + _MLQA_COMMON
        + "; ar: 'ال' removed only at the start of a word; other languages: no articles"
    ),
}

_ASCII_PUNCT = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")
_MLQA_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
}
# The official pattern: its first branch can never match ('^' after three characters
# without MULTILINE), so every "ال" is replaced by a space.
_ARABIC_ARTICLE_OFFICIAL = re.compile(r"\sال^|ال")
_ARABIC_ARTICLE_WORD_INITIAL = re.compile(r"(^|\s)ال")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fa5]")  # the official (narrow) range


class QALanguageError(XlingError, ValueError):
    """The official MLQA normalisation has no rule for this language."""


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown QA normalisation mode {mode!r}; expected one of {MODES}")


def _check_language(lang: str, mode: str) -> None:
    if mode == "mlqa" and _base_lang(lang) not in MLQA_LANGUAGES:
        raise QALanguageError(f"qa_mlqa: the official MLQA script has no rule for language {lang!r} (it knows "
                              f"{' '.join(MLQA_LANGUAGES)}); qa_mlqa_word_initial scores others with no articles")


def _base_lang(lang: str) -> str:
    """``"zh-CN"`` / ``"ZH_hans"`` -> ``"zh"``."""
    return re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]


def _is_mlqa_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def _remove_mlqa_articles(text: str, lang: str, mode: str) -> str:
    """Per-language article removal (hi, zh and, in ``mlqa_word_initial``, unknown languages: none).

    Arabic: the official pattern ``'\\sال^|ال'`` has a dead first branch, so it
    replaces *every* ``ال`` by a space, even inside words (``"فالكتاب"`` ->
    ``"ف كتاب"``, ``"مال"`` -> ``"م"``); mode ``mlqa`` does exactly that. Mode
    ``mlqa_word_initial`` removes ``ال`` only where it starts a word (keeping
    the whitespace before it).
    """
    if lang == "ar":
        if mode == "mlqa":
            return _ARABIC_ARTICLE_OFFICIAL.sub(" ", text)
        return _ARABIC_ARTICLE_WORD_INITIAL.sub(r"\1", text)
    pattern = _MLQA_ARTICLES.get(lang)
    return pattern.sub(" ", text) if pattern else text


def _mixed_segmentation(text: str) -> list[str]:
    """MLQA's Chinese tokeniser: each CJK or punctuation character is a token,
    runs of other characters are whitespace-split."""
    tokens: list[str] = []
    run: list[str] = []
    for ch in text:
        if _CJK_CHAR.match(ch) or _is_mlqa_punct(ch):
            tokens.extend("".join(run).split())
            run = []
            tokens.append(ch)
        else:
            run.append(ch)
    tokens.extend("".join(run).split())
    return tokens


def answer_tokens(text: str, lang: str = "en", mode: str = "squad") -> list[str]:
    """Normalise ``text`` and return its tokens (the units F1 counts).

    Order, as in the official scripts: lower-case, remove punctuation, remove
    articles, tokenise. For MLQA ``zh`` this means punctuation is deleted
    *before* ``mixed_segmentation`` runs (so ``"ab,cd"`` gives ``["abcd"]``,
    not ``["ab", "cd"]``) and no articles are removed. The official scripts
    compare and split the tokens joined by spaces; tokens never hold
    whitespace, so comparing the lists is the same.
    """
    _check_mode(mode)
    text = text.lower()
    if mode == "squad":
        text = "".join(ch for ch in text if ch not in _ASCII_PUNCT)
        return _SQUAD_ARTICLES.sub(" ", text).split()
    _check_language(lang, mode)
    lang = _base_lang(lang)
    text = "".join(ch for ch in text if not _is_mlqa_punct(ch))
    text = _remove_mlqa_articles(text, lang, mode)
    return _mixed_segmentation(text) if lang == "zh" else text.split()


def normalize_answer(text: str, lang: str = "en", mode: str = "squad") -> str:
    """Normalised answer string: the tokens of :func:`answer_tokens` joined by spaces."""
    return " ".join(answer_tokens(text, lang, mode))


def _f1(pred: list[str], gold: list[str]) -> float:
    # Official behaviour: no common tokens -> 0, including when both are empty.
    num_same = sum((Counter(pred) & Counter(gold)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred)
    recall = num_same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction: str, gold: str, lang: str = "en", mode: str = "squad") -> float:
    """1.0 if both normalise to the same string (two empty strings match), else 0.0."""
    same = answer_tokens(prediction, lang, mode) == answer_tokens(gold, lang, mode)
    return 1.0 if same else 0.0


def f1_score(prediction: str, gold: str, lang: str = "en", mode: str = "squad") -> float:
    """Bag-of-tokens F1 in [0, 1].

    As in the official scripts, F1 is 0 whenever no token is shared -- also
    when both sides normalise to empty (where EM is 1). SQuAD v2's script
    differs there; we follow v1.1/MLQA.
    """
    return _f1(answer_tokens(prediction, lang, mode), answer_tokens(gold, lang, mode))


def score_qa(
    predictions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    lang: str = "en",
    mode: str = "squad",
) -> dict[str, float | int]:
    """Corpus EM/F1 as percentages (0-100), max over each question's gold answers.

    Averages over all questions in ``references``; a question without a
    prediction scores 0 and is counted in ``missing``. Predictions for ids not
    in ``references`` are ignored. A single string is accepted as one gold answer.
    """
    _check_mode(mode)
    if mode != "squad":
        _check_language(lang, mode)
    if not references:
        raise ValueError("score_qa: references is empty")
    em_total = f1_total = 0.0
    missing = 0
    for qid, golds in references.items():
        if isinstance(golds, str):
            golds = [golds]
        if not golds:
            raise ValueError(f"score_qa: question {qid!r} has no gold answers")
        if qid not in predictions:
            missing += 1
            continue
        pred = answer_tokens(predictions[qid], lang, mode)
        gold_tokens = [answer_tokens(g, lang, mode) for g in golds]
        em_total += max(1.0 if pred == g else 0.0 for g in gold_tokens)
        f1_total += max(_f1(pred, g) for g in gold_tokens)
    n = len(references)
    return {
        "exact_match": 100.0 * em_total / n,
        "f1": 100.0 * f1_total / n,
        "count": n,
        "missing": missing,
    }


# --- registry entries: one metric per normalisation mode ----------------------------
# The metric's name (``qa_squad`` / ``qa_mlqa`` / ``qa_mlqa_word_initial``) is what a task
# declares and what results.json records as ``task.metric``, so every score says how it
# was normalised.


def _qa_metric(mode: str) -> Metric:
    def compute(predictions: Sequence[str], references: Sequence[Sequence[str]], lang: str = "en") -> dict[str, float]:
        """EM and F1 of aligned predicted texts and gold-answer lists, in ``lang``."""
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predicted answers for {len(references)} questions")
        scores = score_qa({str(i): p for i, p in enumerate(predictions)},
                          {str(i): r for i, r in enumerate(references)}, lang, mode)
        return {"exact_match": scores["exact_match"], "f1": scores["f1"]}

    return Metric(f"qa_{mode}", "f1", compute, QA_NORMALISATION[mode])


QA_METRICS: dict[str, str] = {mode: METRICS.register(f"qa_{mode}", _qa_metric(mode)).name for mode in MODES}
