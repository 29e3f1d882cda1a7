"""Word-level tagging (NER, POS): CoNLL-U and column files, labels on the first sub-word of each word."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xling.data.features import SpecialTokens
from xling.data.files import check_labelled, read_lines
from xling.errors import DataError
from xling.kinds.base import KINDS, Kind
from xling.models.heads import IGNORE_INDEX
from xling.tasks.task import Task


@dataclass
class TagExample:
    """One sentence of word-level tags (NER, POS). ``tags`` is None when unlabelled."""

    tokens: list[str]
    tags: list[str] | None = None
    id: str = ""


def read_tags(path: str | Path, *, tag_column: str = "upos", lang: str | None = None) -> tuple[list[TagExample], bool]:
    """Word-per-line tagging files: CoNLL-U, or CoNLL-style columns.

    CoNLL-U (10 columns, ``#`` comments) yields FORM and ``tag_column``
    (``upos`` or ``xpos``), skipping multi-word ranges and empty nodes.
    Column files give the token in the first column (after a leading integer
    index, if every line has one) and the tag in the last; a single column is
    unlabelled. A ``{lang}:`` prefix on every token (raw PAN-X) is removed.
    """
    sentences: list[list[tuple[int, list[str]]]] = [[]]
    conllu = False
    lines = list(read_lines(path))
    tabbed = any("\t" in line for _, line in lines)  # a tab-separated file splits on tabs only
    for number, line in lines:
        if not line.strip():
            if "\t" in line:
                raise DataError(f"{path}:{number}: the line holds only a tab (an empty token); sentences are "
                                "separated by empty lines")
            if sentences[-1]:
                sentences.append([])
            continue
        # a comment, unless a column file's token row: "#<TAB>SYM" starts sentences of XTREME's udpos files
        if line.startswith("#") and (conllu or (not sentences[-1] and "\t" not in line)):
            conllu = True
            continue
        fields = line.split("\t") if tabbed else line.split()
        if len(fields) == 10:
            conllu = True
        sentences[-1].append((number, fields))
    sentences = [s for s in sentences if s]
    if not sentences:
        return [], False
    if conllu:
        return _from_conllu(path, sentences, tag_column), True
    return _from_columns(path, sentences, lang, tabbed)


def _from_conllu(path, sentences, tag_column: str) -> list[TagExample]:
    col = {"upos": 3, "xpos": 4}[tag_column]
    examples = []
    for sentence in sentences:
        tokens, tags = [], []
        for number, fields in sentence:
            if len(fields) != 10:
                raise DataError(f"{path}:{number}: expected 10 CoNLL-U columns, got {len(fields)}")
            if "-" in fields[0] or "." in fields[0]:
                continue  # multi-word token range or empty node
            tokens.append(fields[1])
            tags.append(fields[col])
        examples.append(TagExample(tokens, tags, str(len(examples))))
    return examples


def _index_column(path, rows: list[tuple[int, list[str]]]) -> int:
    """1 if the first column is a word index (on most lines; then it must be on every one), else 0."""
    indexed = [len(f) >= 3 and f[0].strip().isdigit() for _, f in rows]
    if sum(indexed) <= len(rows) / 2:
        return 0
    if not all(indexed):
        number, fields = rows[indexed.index(False)]
        raise DataError(f"{path}:{number}: {fields[0]!r} is not a word index, but the first column of the "
                        "other lines is one")
    return 1


def _from_columns(path, sentences, lang: str | None, tabbed: bool = True) -> tuple[list[TagExample], bool]:
    rows = [(number, fields) for sentence in sentences for number, fields in sentence]
    if tabbed:
        for number, fields in rows:
            if len(fields) == 1 and len(fields[0].split()) > 1:
                raise DataError(f"{path}:{number}: the columns of this line are separated by spaces, but the file "
                                "separates them with tabs")
    start = _index_column(path, rows)
    labelled = check_labelled(
        path, [len(f) - start >= 2 and bool(f[-1].strip()) for _, f in rows], rows
    )
    width = len(rows[0][1])
    for number, fields in rows:
        if len(fields) != width:
            raise DataError(f"{path}:{number}: {len(fields)} columns, but line {rows[0][0]} has {width}; every "
                            "line of a column file must have the same number of columns")
    examples = []
    for sentence in sentences:
        tokens = [fields[start] for _, fields in sentence]
        tags = [fields[-1].strip() for _, fields in sentence] if labelled else None
        examples.append(TagExample(tokens, tags, str(len(examples))))
    if lang and all(t.startswith(f"{lang}:") for e in examples for t in e.tokens):
        for example in examples:
            example.tokens = [t[len(lang) + 1 :] for t in example.tokens]
    return examples, labelled


def tag_features(
    examples: Sequence[TagExample],
    tokenizer: Any,
    max_length: int,
    label_index: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Word-level tags on the first sub-word of each word, -100 on the rest.

    A sentence longer than ``max_length`` sub-words is split into several
    features at word boundaries, so every word is predicted and scored (the
    XTREME scripts silently drop the words past the limit). A word the
    tokenizer maps to nothing becomes the unknown token, as XTREME does.
    """
    special = SpecialTokens.of(tokenizer)
    budget = max_length - len(special.prefix) - len(special.suffix)
    vocab = sorted({t for e in examples for t in e.tokens})
    pieces = dict(zip(vocab, tokenizer(vocab, add_special_tokens=False)["input_ids"])) if vocab else {}
    unk = [tokenizer.unk_token_id if tokenizer.unk_token_id is not None else tokenizer.pad_token_id]
    features = []
    for index, example in enumerate(examples):
        words = [pieces[t] or unk for t in example.tokens]
        tags = example.tags
        start = 0
        while start < len(words) or (start == 0 and not words):
            ids, labels, positions = list(special.prefix), [], []
            end = start
            while end < len(words) and (end == start or len(ids) - len(special.prefix) + len(words[end]) <= budget):
                positions.append(len(ids))
                ids.extend(words[end][: budget - (len(ids) - len(special.prefix))])
                end += 1
            ids.extend(special.suffix)
            feature: dict[str, Any] = {"input_ids": ids, "example": index, "word_start": start, "positions": positions}
            if label_index is not None and tags is not None:
                labels = [IGNORE_INDEX] * len(ids)
                for position, tag in zip(positions, tags[start:end]):
                    labels[position] = label_index.get(tag, IGNORE_INDEX)
                feature["labels"] = labels
            features.append(feature)
            if end == start:  # empty sentence
                break
            start = end
    return features


class Tagging(Kind):
    name = "tagging"
    head = "tagging"
    needs_labels = True
    task_options = Kind.task_options | {"tag_column"}  # upos or xpos (CoNLL-U files)
    example_type = TagExample

    def is_labelled(self, example: TagExample) -> bool:
        return example.tags is not None

    def read(self, task, path, lang, label_file=None, row_filter=None):
        return read_tags(path, tag_column=task.options.get("tag_column", "upos"), lang=lang)

    def from_hub_row(self, task, hub, row, label_name, ident) -> TagExample:
        f = hub.fields
        raw = row.get(f["tags"]) if "tags" in f else None
        tags = [label_name(t, "tags") for t in raw] if raw else None
        return TagExample(list(row[f["tokens"]]), None if not tags or None in tags else tags, ident)

    def labels_in(self, examples: Sequence[TagExample]) -> set[str]:
        return {t for e in examples if e.tags for t in e.tags}

    def featurize(self, task, examples, tokenizer, max_length, label_index):
        return tag_features(examples, tokenizer, max_length, label_index)

    def gather(self, logits: torch.Tensor, batch: dict[str, Any]) -> list[np.ndarray]:
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return [probs[row, positions] for row, positions in enumerate(batch["positions"])]

    def assemble(self, examples, features, outputs) -> list[np.ndarray]:
        parts: list[list[tuple[int, np.ndarray]]] = [[] for _ in examples]
        for feature, output in zip(features, outputs):
            parts[feature["example"]].append((feature["word_start"], output))
        return [np.concatenate([o for _, o in sorted(p, key=lambda x: x[0])]) if p else np.zeros((0, 0))
                for p in parts]

    def decode(self, task: Task, outputs: Sequence[np.ndarray], examples) -> list[list[str]]:
        labels = task.labels or ()
        return [[labels[int(i)] for i in np.argmax(p, axis=-1)] if p.size else [] for p in outputs]

    def references(self, task: Task, examples: Sequence[TagExample]) -> list[list[str] | None]:
        return [e.tags for e in examples]

    def degenerate(self, task: Task, predictions, references) -> str | None:
        """No entity predicted where the gold data has some (IOB tag sets), or one tag for every word."""
        predicted = [tag for sentence in predictions for tag in sentence]
        gold = [tag for sentence in references if sentence for tag in sentence]
        if not predicted or not gold:
            return None
        if "O" in (task.labels or ()):
            gold_entities = sum(1 for tag in gold if tag.startswith("B-"))
            if gold_entities and all(tag == "O" for tag in predicted):
                return (f"predicts no entity in {len(predictions)} sentences (every word O; the gold data has "
                        f"{gold_entities} entities)")
            return None
        if len(set(predicted)) == 1 and len(set(gold)) > 1:
            return f"predicts the tag {predicted[0]!r} for all {len(predicted)} words"
        return None

    def prediction_record(self, example: TagExample, prediction, reference) -> dict[str, Any]:
        return {"id": example.id, "tokens": example.tokens, "prediction": prediction, "gold": reference}


KINDS.register(Tagging.name, Tagging())
