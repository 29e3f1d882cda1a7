"""Extractive QA (XQuAD, MLQA, TyDiQA-GoldP): windows over long contexts, the best span over all windows.

A feature is one window ``question [SEP] context-slice``: the fast tokenizer
cuts the context into windows of ``max_length`` sub-words that start
``doc_stride`` sub-words apart (``run_squad``'s meaning: the step between
windows, 128), and its offsets map every context token back to characters,
so the predicted answer is always a slice of the original context (CJK text,
SentencePiece or WordPiece alike). Training windows carry the token positions
of the first gold answer; a window that does not contain it points at index 0
(``[CLS]``, or the first question token for tokenizers without one, such as
mT5's), as Hugging Face's ``run_qa.py`` and XTREME do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xling.data.files import check_labelled, read_text
from xling.errors import ConfigError, DataError
from xling.kinds.base import KINDS, Kind
from xling.metrics import METRICS
from xling.models import span_head  # noqa: F401 - registers the "span" head
from xling.tasks.task import Task

log = logging.getLogger(__name__)

POSITION_KEYS = frozenset({"start_positions", "end_positions"})  # a window's gold answer, in tokens

# XTREME / BERT-SQuAD defaults; a task's ``options`` override them.
DEFAULTS = {"doc_stride": 128, "max_query_length": 64, "max_answer_length": 30}


@dataclass
class QAExample:
    """Extractive QA: a question over a context; ``answers`` hold text and character start."""

    id: str
    question: str
    context: str
    answers: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""


def read_squad(path: str | Path) -> tuple[list[QAExample], bool]:
    """SQuAD v1.1-format JSON (XQuAD, MLQA, TyDiQA-GoldP): ``data/paragraphs/qas``."""
    try:
        payload = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(payload, dict) or "data" not in payload:
        raise DataError(f"{path}: expected SQuAD-format JSON with a top-level 'data' list")
    try:
        examples = _squad_examples(payload)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{path}: not SQuAD-format JSON ({type(exc).__name__}: {exc}); expected "
                        "data/paragraphs/context and qas with id, question, answers") from None
    labelled = check_labelled(path, [bool(e.answers) for e in examples], [(f"question {e.id}", e) for e in examples])
    return examples, labelled


def _squad_examples(payload: dict[str, Any]) -> list[QAExample]:
    examples = []
    for article in payload["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph["context"]
            for qa in paragraph.get("qas", []):
                # stripped copies (XTREME's TyDiQA-GoldP dev) keep {"text": "", ...} placeholders: not labels
                answers = [{"text": a["text"], "answer_start": int(a["answer_start"])} for a in qa.get("answers", [])
                           if a.get("text", "").strip()]
                examples.append(QAExample(str(qa["id"]), qa["question"], context, answers, article.get("title", "")))
    return examples


def option(task: Task, name: str) -> int:
    return int(task.options.get(name, DEFAULTS[name]))


def answer_span(example: QAExample) -> tuple[int, int] | None:
    """Character span of the first gold answer; None if it is not in the context.

    When the text is not at ``answer_start`` the occurrence nearest to it is
    used (a shifted offset in a hand-made file); an answer absent from the
    context has no span.
    """
    if not example.answers:
        return None
    text, start = example.answers[0]["text"], int(example.answers[0]["answer_start"])
    if text and example.context[start : start + len(text)] == text:
        return start, start + len(text)
    found, position = [], example.context.find(text) if text else -1
    while position >= 0:
        found.append(position)
        position = example.context.find(text, position + 1)
    if not found:
        return None
    nearest = min(found, key=lambda p: abs(p - start))
    return nearest, nearest + len(text)


def token_span(offsets: np.ndarray, span: tuple[int, int]) -> tuple[int, int]:
    """Token positions of a character span inside one window, or (0, 0) if the window lacks it.

    ``offsets`` is (T, 2) with -1 on tokens outside the context. The start is
    the last context token starting at or before the span, the end the first
    token from there on that reaches the span's end.
    """
    context = np.flatnonzero(offsets[:, 0] >= 0)
    start_char, end_char = span
    if not len(context) or offsets[context[0], 0] > start_char or offsets[context[-1], 1] < end_char:
        return 0, 0
    start = int(context[offsets[context, 0] <= start_char][-1])
    end = int(next(k for k in context if k >= start and offsets[k, 1] >= end_char))
    return start, end


def truncate_questions(questions: list[str], tokenizer: Any, limit: int) -> list[str]:
    """Cut each question after its ``limit``-th sub-word (XTREME's max_query_length), at a character offset."""
    encoded = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    return [q if len(offsets) <= limit else q[: offsets[limit - 1][1]]
            for q, offsets in zip(questions, encoded["offset_mapping"])]


def qa_features(
    examples: Sequence[QAExample],
    tokenizer: Any,
    max_length: int,
    *,
    doc_stride: int = DEFAULTS["doc_stride"],
    max_query_length: int = DEFAULTS["max_query_length"],
    max_answer_length: int = DEFAULTS["max_answer_length"],
) -> list[dict[str, Any]]:
    """Windows of ``question + context`` with offsets, and answer positions for labelled examples.

    Questions are cut to ``max_query_length`` sub-words (at most half of what
    the special tokens leave). Windows start ``doc_stride`` context sub-words
    apart, as in BERT's and XTREME's ``run_squad`` (a window as long as the
    room left: no overlap when ``doc_stride`` is longer than that).
    ``max_answer_length`` travels with each window to :meth:`SpanQA.assemble`.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("span QA needs a fast (Rust) tokenizer for character offsets; "
                          f"{type(tokenizer).__name__} is not one")
    if not examples:
        return []
    room = max_length - tokenizer.num_special_tokens_to_add(pair=True)
    if room < 4:
        raise ConfigError(f"max_seq_length {max_length} leaves no room for a question and a context window")
    if doc_stride < 1:
        raise ConfigError(f"doc_stride must be >= 1 (the step between windows, in sub-words), got {doc_stride}")
    questions = truncate_questions([e.question.lstrip() for e in examples], tokenizer,
                                   max(1, min(max_query_length, room // 2)))
    # run_squad's windows start doc_stride context sub-words apart (BERT, XTREME): with q question sub-words
    # a window holds room - q of them, so consecutive windows overlap by room - q - doc_stride; the tokenizer
    # takes one overlap per call, hence one call per question length
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(tokenizer(questions, add_special_tokens=False)["input_ids"]):
        by_length.setdefault(len(ids), []).append(i)
    windows: list[tuple[int, Any, int]] = []  # (example, encoding, window within the encoding)
    for length, indices in sorted(by_length.items()):
        encoded = tokenizer([questions[i] for i in indices], [examples[i].context for i in indices],
                            truncation="only_second", max_length=max_length, stride=max(0, room - length - doc_stride),
                            return_overflowing_tokens=True, return_offsets_mapping=True)
        windows += [(indices[sample], encoded, w) for w, sample in enumerate(encoded["overflow_to_sample_mapping"])]
    windows.sort(key=lambda window: window[0])  # stable: each example's windows together, in order
    spans = [answer_span(e) for e in examples]
    unmatched = sum(1 for e, s in zip(examples, spans) if e.answers and s is None)
    if unmatched:
        log.warning("%d of %d answers are not in their context; their windows point at index 0",
                    unmatched, len(examples))
    features = []
    for index, encoded, i in windows:
        ids = encoded["input_ids"][i]
        offsets = np.asarray(encoded["offset_mapping"][i], dtype=np.int32).reshape(-1, 2)
        outside = np.array([s != 1 for s in encoded.sequence_ids(i)], dtype=bool)
        offsets[outside] = -1
        feature: dict[str, Any] = {"input_ids": ids, "example": index, "offsets": offsets,
                                   "max_answer_length": max_answer_length}
        if "token_type_ids" in encoded:
            feature["token_type_ids"] = encoded["token_type_ids"][i]
        if examples[index].answers:
            span = spans[index]
            feature["start_positions"], feature["end_positions"] = token_span(offsets, span) if span else (0, 0)
        features.append(feature)
    return features


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, offsets: np.ndarray,
              max_answer_length: int) -> tuple[float, int, int] | None:
    """The highest ``start + end`` logit over valid spans of one window: ``(score, start, end)`` tokens.

    Valid: both ends in the context, end >= start, at most ``max_answer_length``
    tokens. The search is exact (every length), so it returns the span
    ``run_qa.py``'s top-20 starts x top-20 ends finds whenever that one is
    valid, and never nothing while the window has context tokens.
    """
    inside = offsets[:, 0] >= 0
    starts = np.where(inside, start_logits, -np.inf)
    ends = np.where(inside, end_logits, -np.inf)
    best: tuple[float, int, int] | None = None
    for extra in range(min(max_answer_length, len(starts))):
        total = starts[: len(starts) - extra] + ends[extra:]
        k = int(np.argmax(total))
        if np.isfinite(total[k]) and (best is None or total[k] > best[0]):
            best = (float(total[k]), k, k + extra)
    return best


class SpanQA(Kind):
    name = "span_qa"
    head = "span"
    task_options = Kind.task_options | set(DEFAULTS)
    example_type = QAExample
    stacked_keys = POSITION_KEYS
    label_keys = frozenset({"labels"}) | POSITION_KEYS

    def is_labelled(self, example: QAExample) -> bool:
        return bool(example.answers)

    def read(self, task, path, lang, label_file=None, row_filter=None):
        return read_squad(path)

    def from_hub_row(self, task, hub, row, label_name, ident) -> QAExample:
        f = hub.fields
        answers = row[f.get("answers", "answers")]
        pairs = zip(answers["text"], answers["answer_start"])
        return QAExample(ident, row[f.get("question", "question")], row[f.get("context", "context")],
                         [{"text": t, "answer_start": int(s)} for t, s in pairs])

    def featurize(self, task, examples, tokenizer, max_length, label_index):
        return qa_features(examples, tokenizer, max_length, doc_stride=option(task, "doc_stride"),
                           max_query_length=option(task, "max_query_length"),
                           max_answer_length=option(task, "max_answer_length"))

    def gather(self, logits: torch.Tensor, batch: dict[str, Any]) -> list[np.ndarray]:
        """Per window: (T, 2) start / end logits over its own tokens."""
        values = logits.float().cpu().numpy()
        return [values[row, : len(offsets)] for row, offsets in enumerate(batch["offsets"])]

    def assemble(self, examples: Sequence[QAExample], features, outputs) -> list[dict[str, Any]]:
        """Per example: the best span over its windows as ``text``, character ``start`` / ``end``, ``score``."""
        best: list[tuple[float, int, int] | None] = [None] * len(examples)
        for feature, logits in zip(features, outputs):
            found = best_span(logits[:, 0], logits[:, 1], feature["offsets"], feature["max_answer_length"])
            index = feature["example"]
            if found is not None and (best[index] is None or found[0] > best[index][0]):
                offsets = feature["offsets"]
                best[index] = (found[0], int(offsets[found[1], 0]), int(offsets[found[2], 1]))
        return [{"text": e.context[b[1] : b[2]], "start": b[1], "end": b[2], "score": b[0]} if b else
                {"text": "", "start": None, "end": None, "score": None} for e, b in zip(examples, best)]

    def decode(self, task: Task, outputs: Sequence[dict[str, Any]], examples) -> list[str]:
        return [o["text"] for o in outputs]

    def references(self, task: Task, examples: Sequence[QAExample]) -> list[list[str]]:
        return [[a["text"] for a in e.answers] for e in examples]

    def score(self, task: Task, predictions, references, lang: str) -> dict[str, float]:
        """EM / F1 with the normalisation the task's metric names (``qa_squad`` or ``qa_mlqa``) in ``lang``."""
        return METRICS.get(task.metric).compute(predictions, references, lang=lang)


KINDS.register(SpanQA.name, SpanQA())
