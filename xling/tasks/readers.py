"""Readers for the file formats the field uses, gzipped or not, any line endings.

Every reader returns ``(examples, labelled)``. A file is labelled when every
record carries a label and unlabelled when none does; a mix is a malformed
file and raises :class:`DataError` naming the file and line.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from xling.errors import DataError
from xling.tasks.examples import ChoiceExample, PairExample, QAExample, TagExample

GZIP_MAGIC = b"\x1f\x8b"

# Header names seen in the wild for pair files (XTREME, HF exports, SICK).
_TEXT_A = ("sentence1", "premise", "sentence_a", "text_a")
_TEXT_B = ("sentence2", "hypothesis", "sentence_b", "text_b")
_LABEL = ("label", "gold_label", "entailment_label")


def open_text(path: str | Path):
    """Open a UTF-8 text file, transparently gunzipping it."""
    path = Path(path)
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` with ``\\n`` / ``\\r\\n`` / a BOM removed."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n").rstrip("\r")
            if number == 1:
                line = line.lstrip("\ufeff")
            yield number, line


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


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
    a_col, b_col = _column(first, _TEXT_A), _column(first, _TEXT_B)
    if a_col is not None and b_col is not None:
        label_col = _column(first, _LABEL)
        id_col = _column(first, ("id", "pair_id", "index"))
        body, width = lines[1:], len(first)
        if row_filter is not None:
            filter_col = _column(first, (row_filter[0].lower(),))
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
    labelled = _check_labelled(path, [e.label is not None for e in examples], body)
    if not labelled and label_file is not None and Path(label_file).exists():
        _attach_labels(examples, label_file)
        labelled = True
    return examples, labelled


def _attach_labels(examples: list[PairExample], label_file: str | Path) -> None:
    rows = [line.split("\t") for _, line in read_lines(label_file) if line.strip()]
    col = _column(rows[0], _LABEL)
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


def _check_labelled(path, flags: list[bool], lines: list[tuple[int, object]]) -> bool:
    """True if every record is labelled, False if none is; a mix is an error."""
    if all(flags):
        return bool(flags)
    if not any(flags):
        return False
    odd = flags.index(False) if flags[0] else flags.index(True)
    raise DataError(
        f"{path}:{lines[odd][0]}: this record is {'un' if flags[0] else ''}labelled "
        f"but record 1 is {'' if flags[0] else 'un'}labelled; a file must be all one or the other"
    )


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
    for number, line in read_lines(path):
        if not line.strip():
            if sentences[-1]:
                sentences.append([])
            continue
        # a comment, unless a column file's token row: "#<TAB>SYM" starts sentences of XTREME's udpos files
        if line.startswith("#") and (conllu or (not sentences[-1] and "\t" not in line)):
            conllu = True
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) == 10:
            conllu = True
        sentences[-1].append((number, fields))
    sentences = [s for s in sentences if s]
    if not sentences:
        return [], False
    if conllu:
        return _from_conllu(path, sentences, tag_column), True
    return _from_columns(path, sentences, lang)


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


def _from_columns(path, sentences, lang: str | None) -> tuple[list[TagExample], bool]:
    rows = [(number, fields) for sentence in sentences for number, fields in sentence]
    start = 1 if all(len(f) >= 3 and f[0].isdigit() for _, f in rows) else 0
    labelled = _check_labelled(
        path, [len(f) - start >= 2 and bool(f[-1].strip()) for _, f in rows], rows
    )
    examples = []
    for sentence in sentences:
        tokens = [fields[start] for _, fields in sentence]
        tags = [fields[-1].strip() for _, fields in sentence] if labelled else None
        examples.append(TagExample(tokens, tags, str(len(examples))))
    if lang and all(t.startswith(f"{lang}:") for e in examples for t in e.tokens):
        for example in examples:
            example.tokens = [t[len(lang) + 1 :] for t in example.tokens]
    return examples, labelled


def read_squad(path: str | Path) -> tuple[list[QAExample], bool]:
    """SQuAD v1.1-format JSON (XQuAD, MLQA, TyDiQA-GoldP): ``data/paragraphs/qas``."""
    with open_text(path) as handle:
        try:
            payload = json.load(handle)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(payload, dict) or "data" not in payload:
        raise DataError(f"{path}: expected SQuAD-format JSON with a top-level 'data' list")
    examples = []
    for article in payload["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph["context"]
            for qa in paragraph.get("qas", []):
                # stripped copies (XTREME's TyDiQA-GoldP dev) keep {"text": "", ...} placeholders: not labels
                answers = [{"text": a["text"], "answer_start": int(a["answer_start"])} for a in qa.get("answers", [])
                           if a.get("text", "").strip()]
                examples.append(QAExample(str(qa["id"]), qa["question"], context, answers, article.get("title", "")))
    labelled = _check_labelled(path, [bool(e.answers) for e in examples], [(f"question {e.id}", e) for e in examples])
    return examples, labelled


def read_choices(path: str | Path) -> tuple[list[ChoiceExample], bool]:
    """COPA / XCOPA JSON lines: ``premise, choice1, choice2, question, label, idx``."""
    examples = []
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
        choices = [row[k] for k in sorted(k for k in row if k.startswith("choice"))]
        if "premise" not in row or len(choices) < 2:
            raise DataError(f"{path}:{number}: expected 'premise' and at least 'choice1', 'choice2'")
        label = row.get("label")
        examples.append(ChoiceExample(row["premise"], choices, row.get("question", ""),
                                      None if label in (None, -1) else int(label), str(row.get("idx", number))))
    flags = [e.label is not None for e in examples]
    return examples, _check_labelled(path, flags, [(i + 1, "") for i in range(len(flags))])
