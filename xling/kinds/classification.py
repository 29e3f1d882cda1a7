"""Sentence-pair classification (XNLI, PAWS-X, SICK): pair TSV files, ``a [SEP] b``, a classification head."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xling.config import TrainConfig
from xling.data.files import check_labelled, header_column, read_lines
from xling.errors import DataError
from xling.kinds.base import KINDS, Kind
from xling.models.heads import IGNORE_INDEX
from xling.tasks.task import Task

# Header names seen in the wild for pair files (XTREME, HF exports, SICK).
_TEXT_A = ("sentence1", "premise", "sentence_a", "text_a")
_TEXT_B = ("sentence2", "hypothesis", "sentence_b", "text_b")
_LABEL = ("label", "gold_label", "entailment_label")


@dataclass
class PairExample:
    """Sentence-pair classification (XNLI, PAWS-X). ``label`` is None when unlabelled."""

    text_a: str
    text_b: str
    label: str | None = None
    id: str = ""


def read_pairs(path: str | Path, label_file: str | Path | None = None,
               row_filter: tuple[str, str] | None = None) -> tuple[list[PairExample], bool]:
    """Sentence-pair TSV: ``a<TAB>b[<TAB>label]``, or any TSV with a header naming the columns.

    Without a header, 3 columns are (a, b, label) and 2 columns (a, b) are
    unlabelled. With a header, columns are found by name (``sentence1`` /
    ``premise``, ``sentence2`` / ``hypothesis``, ``label`` / ``gold_label``).
    ``label_file`` (header + a ``label`` column, row-aligned) labels an
    unlabelled file, as XNLI's test labels come separately. ``row_filter``
    ``(column, value)`` keeps the rows of one split of a headed file.
    """
    lines = [(n, line) for n, line in read_lines(path) if line.strip()]
    if not lines:
        return [], False
    first = lines[0][1].split("\t")
    a_col, b_col = header_column(first, _TEXT_A), header_column(first, _TEXT_B)
    if a_col is not None and b_col is not None:
        label_col = header_column(first, _LABEL)
        id_col = header_column(first, ("id", "pair_id", "index"))
        body, width = lines[1:], len(first)
        if row_filter is not None:
            filter_col = header_column(first, (row_filter[0].lower(),))
            if filter_col is None:
                raise DataError(f"{path}:1: no column {row_filter[0]!r} to select the split from")
            body = [(n, line) for n, line in body if line.split("\t")[filter_col:filter_col + 1] == [row_filter[1]]]
    else:
        width = len(first)
        if width not in (2, 3):
            raise DataError(
                f"{path}:{lines[0][0]}: expected 2 or 3 tab-separated fields "
                f"(sentence1, sentence2[, label]) or a header row, got {width}"
            )
        if row_filter is not None:
            raise DataError(f"{path}: selecting rows by {row_filter[0]!r} needs a header row")
        a_col, b_col, label_col, id_col, body = 0, 1, (2 if width == 3 else None), None, lines
    examples = []
    for number, line in body:
        fields = line.split("\t")
        if len(fields) != width:
            raise DataError(f"{path}:{number}: expected {width} tab-separated fields, got {len(fields)}")
        label = fields[label_col].strip() if label_col is not None else None
        ident = fields[id_col] if id_col is not None else str(len(examples))
        examples.append(PairExample(fields[a_col], fields[b_col], label or None, ident))
    labelled = check_labelled(path, [e.label is not None for e in examples], body)
    if not labelled and label_file is not None and Path(label_file).exists():
        _attach_labels(examples, label_file)
        labelled = True
    return examples, labelled


def _attach_labels(examples: list[PairExample], label_file: str | Path) -> None:
    rows = [line.split("\t") for _, line in read_lines(label_file) if line.strip()]
    col = header_column(rows[0], _LABEL)
    if col is None:
        raise DataError(f"{label_file}:1: a labels file needs a header with a 'label' column")
    labels = [row[col].strip() for row in rows[1:]]
    if len(labels) != len(examples):
        raise DataError(
            f"{label_file}: has {len(labels)} labels but the data file has {len(examples)} rows; "
            "labels files must be row-aligned"
        )
    for example, label in zip(examples, labels):
        example.label = label


def pair_features(
    examples: Sequence[PairExample],
    tokenizer: Any,
    max_length: int,
    label_index: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """``text_a [SEP] text_b``, longest-first truncation to ``max_length`` (as XTREME)."""
    encoded = tokenizer(
        [e.text_a for e in examples], [e.text_b for e in examples], truncation=True, max_length=max_length
    )
    features = []
    for i, example in enumerate(examples):
        feature: dict[str, Any] = {"input_ids": encoded["input_ids"][i], "example": i}
        if "token_type_ids" in encoded:
            feature["token_type_ids"] = encoded["token_type_ids"][i]
        if label_index is not None and example.label is not None:
            feature["labels"] = label_index.get(example.label, IGNORE_INDEX)
        features.append(feature)
    return features


class PairClassification(Kind):
    name = "pair_classification"
    head = "classification"
    needs_labels = True
    task_options = Kind.task_options | {"label_case"}  # lower: gold labels lower-cased when read
    example_type = PairExample
    selects_rows = True

    def is_labelled(self, example: PairExample) -> bool:
        return example.label is not None

    def read(self, task, path, lang, label_file=None, row_filter=None):
        return read_pairs(path, label_file, row_filter)

    def from_hub_row(self, task, hub, row, label_name, ident) -> PairExample:
        f = hub.fields
        label = label_name(row.get(f["label"]), "label") if "label" in f else None
        return PairExample(row[f["text_a"]], row[f["text_b"]], label, ident)

    def normalise_labels(self, task: Task, examples: list[PairExample]) -> None:
        """``label_case: lower`` (XNLI, SICK): SICK and MultiNLI files spell the NLI labels in capitals."""
        if task.options.get("label_case") != "lower":
            return
        for example in examples:
            if example.label is not None:
                example.label = example.label.lower()

    def labels_in(self, examples: Sequence[PairExample]) -> set[str]:
        return {e.label for e in examples if e.label is not None}

    def featurize(self, task, examples, tokenizer, max_length, label_index):
        return pair_features(examples, tokenizer, max_length, label_index)

    def head_options(self, task: Task, cfg: TrainConfig) -> dict[str, Any]:
        return {"dropout": cfg.dropout, "pooling": cfg.pooling}

    def decode(self, task: Task, outputs: Sequence[np.ndarray], examples) -> list[str]:
        labels = task.labels or ()
        return [labels[int(np.argmax(p))] for p in outputs]

    def references(self, task: Task, examples: Sequence[PairExample]) -> list[str | None]:
        return [e.label for e in examples]


KINDS.register(PairClassification.name, PairClassification())
