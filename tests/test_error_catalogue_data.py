"""The error catalogue (issue 11), part 2: bad data files (encodings, archives, column files, pair files, --file).

See ``tests/test_error_catalogue.py`` for what a case is and the counts before and after.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil

import pytest

from tests.catalogue import Case, assert_expected, catalogue_data, env, train  # noqa: F401

TAGS = "Anna\tB-PER\nlacht\tO\nin\tO\nBerlin\tB-LOC\n\nBob\tB-PER\nschläft\tO\n"
INDEXED = "1\tAnna\tB-PER\n2\tlacht\tO\n3\tin\tO\n4\tBerlin\tB-LOC\n\n1\tBob\tB-PER\n2\tschläft\tO\n"
PAIRS = "Anna lacht .\tAnna lacht laut .\t1\nBob schläft .\tSchläft Bob ?\t0\nEva liest .\tEva liest .\t1\n"


def _data(task: str, name: str, content: bytes | str | None, gz: bool = False, truncate: bool = False):
    """Copy the task's sample data, then write ``name`` (``None``: remove it)."""
    def setup(e):
        data = e.tmp / "data"
        shutil.copytree(e.panx if task == "panx" else e.pawsx, data)
        target = data / name
        if name.endswith(".gz"):
            (data / name[:-3]).unlink()
        if content is None:
            target.unlink()
            return
        raw = content.encode("utf-8") if isinstance(content, str) else content
        if gz:
            target.unlink(missing_ok=True)
            raw = gzip.compress(raw * 20)
            raw = raw[: len(raw) // 2] if truncate else raw
            target = target.with_name(target.name + ".gz")
        target.write_bytes(raw)
    return setup


def _train(task: str, *extra):
    return lambda e: train(e, "--data-dir", e.tmp / "data", *extra, task=task)


def case(id, task, name, content, says, expect="clear", extra=(), after=None, **kwargs):
    return Case(id, _train(task, *extra), says, expect, setup=_data(task, name, content, **kwargs), after=after)


def in_results_warnings(text: str):
    def after(e, outcome):
        path = e.tmp / "run" / "results.json"
        if outcome.rc == 0 and (not path.exists() or not any(text in w for w in json.loads(path.read_text())["warnings"])):
            return "silent", f"{text!r} not in results.json warnings"
        return None
    return after


LATIN1 = "Anna\tB-PER\nlacht\tO\nMüller\tB-PER\n".encode("latin-1")
BAD_LINE = (TAGS.replace("\n\n", "\nOst\xff\tO\n\n")).encode("utf-8").replace("\xff".encode("utf-8"), b"\xff")
RANDOM = bytes([0xFF]) + bytes(random.Random(0).randrange(256) for _ in range(2000))

CASES = [
    # encodings and archives (tagging files: training, selection and evaluation files)
    case("tags-train-latin1", "panx", "train-en.tsv", LATIN1, ("train-en.tsv:3", "UTF-8")),
    case("tags-train-invalid-utf8-line", "panx", "train-en.tsv", BAD_LINE, ("train-en.tsv:5", "UTF-8")),
    case("tags-dev-latin1", "panx", "dev-en.tsv", LATIN1, ("dev-en.tsv:3", "UTF-8")),
    case("tags-test-latin1", "panx", "test-de.tsv", LATIN1, ("test-de.tsv:3", "UTF-8")),
    case("tags-train-random-bytes", "panx", "train-en.tsv", RANDOM, ("train-en.tsv:1", "UTF-8")),
    case("tags-train-gz-truncated", "panx", "train-en.tsv", TAGS, ("train-en.tsv.gz", "gzip"), gz=True, truncate=True),
    case("tags-test-gz-truncated", "panx", "test-de.tsv", TAGS, ("test-de.tsv.gz", "gzip"), gz=True, truncate=True),
    case("tags-train-gz-corrupt", "panx", "train-en.tsv.gz", b"\x1f\x8b" + bytes(range(200)), ("train-en.tsv.gz", "gzip")),
    case("tags-train-gz-latin1", "panx", "train-en.tsv", LATIN1, ("train-en.tsv.gz:3", "UTF-8"), gz=True),
    case("tags-train-empty", "panx", "train-en.tsv", "", ("train-en", "empty")),
    case("tags-train-blank-lines-only", "panx", "train-en.tsv", "\n\n\n", ("train-en", "empty")),
    # column files
    case("tags-train-bad-index", "panx", "train-en.tsv", INDEXED.replace("3\tin", "x\tin"),
         ("train-en.tsv:3", "index")),
    case("tags-test-bad-index", "panx", "test-de.tsv", INDEXED.replace("2\tschläft", "2a\tschläft"),
         ("test-de.tsv:7", "index")),
    case("tags-train-three-columns-in-two", "panx", "train-en.tsv", TAGS.replace("in\tO", "in\tPREP\tO"),
         ("train-en.tsv:3", "columns")),
    case("tags-test-three-columns-in-two", "panx", "test-de.tsv", TAGS.replace("Bob\tB-PER", "Bob\tNNP\tB-PER"),
         ("test-de.tsv:6", "columns")),
    case("tags-train-space-separated-lines", "panx", "train-en.tsv", TAGS.replace("lacht\tO", "lacht O"),
         ("train-en.tsv:2", "spaces")),
    case("tags-test-space-separated-lines", "panx", "test-de.tsv", TAGS.replace("in\tO\nBerlin\tB-LOC", "in O\nBerlin B-LOC"),
         ("test-de.tsv:3", "spaces")),
    case("tags-train-line-of-a-tab", "panx", "train-en.tsv", TAGS.replace("in\tO\n", "in\tO\n\t\n"),
         ("train-en.tsv:4", "tab")),
    case("tags-test-line-of-a-tab", "panx", "test-de.tsv", TAGS.replace("Bob\tB-PER\n", "Bob\tB-PER\n\t\n"),
         ("test-de.tsv:7", "tab")),
    case("tags-train-unlabelled-line", "panx", "train-en.tsv", TAGS.replace("lacht\tO", "lacht"),
         ("train-en.tsv:2", "unlabelled")),
    case("tags-train-unlabelled-file", "panx", "train-en.tsv", "Anna\nlacht\n", ("train-en", "no labels")),
    case("tags-train-label-outside-set", "panx", "train-en.tsv", TAGS.replace("B-LOC", "B-MISC"), ("B-MISC",)),
    case("tags-test-label-outside-set", "panx", "test-de.tsv", TAGS.replace("B-LOC", "B-MISC"), ("B-MISC",),
         expect="warning", after=None),
    case("tags-test-unlabelled-falls-back", "panx", "test-de.tsv", "Anna\nlacht\n", ("test-de has no labels",),
         expect="warning"),
    case("tags-test-unlabelled-no-fallback", "panx", "test-de.tsv", "Anna\nlacht\n", ("test-de has no labels",),
         extra=("--fallback-split", "")),
    case("tags-test-missing-falls-back", "panx", "test-de.tsv", None, ("test-de was not found; scored on dev",),
         expect="warning"),
    case("tags-test-missing-no-fallback", "panx", "test-de.tsv", None, ("no test data", "'de'"),
         extra=("--fallback-split", "")),
    case("tags-dev-missing", "panx", "dev-en.tsv", None, ("no dev data", "'en'")),
    case("tags-train-missing", "panx", "train-en.tsv", None, ("no train data", "'en'")),
    # sentence-pair files
    case("pairs-train-latin1", "pawsx", "train-en.tsv", PAIRS.replace("schläft", "schl\xe4ft").encode("latin-1"),
         ("train-en.tsv:2", "UTF-8")),
    case("pairs-train-gz-truncated", "pawsx", "train-en.tsv", PAIRS, ("train-en.tsv.gz", "gzip"), gz=True, truncate=True),
    case("pairs-train-four-fields", "pawsx", "train-en.tsv", PAIRS.replace("\t0\n", "\t0\textra\n"),
         ("train-en.tsv:2", "fields")),
    case("pairs-train-two-fields-in-three", "pawsx", "train-en.tsv", PAIRS.replace("\tSchläft Bob ?", ""),
         ("train-en.tsv:2", "fields")),
    case("pairs-train-one-field", "pawsx", "train-en.tsv", "Anna lacht .\n", ("train-en.tsv:1", "fields")),
    case("pairs-train-label-outside-set", "pawsx", "train-en.tsv", PAIRS.replace("\t0\n", "\tyes\n"), ("yes",)),
    case("pairs-train-empty", "pawsx", "train-en.tsv", "", ("train-en", "empty")),
]
CASES.append(Case("pairs-test-label-maybe", _train("pawsx"), ("maybe",), "warning",
                  setup=_data("pawsx", "test-de.tsv", PAIRS.replace("\t0\n", "\tmaybe\n")),
                  after=in_results_warnings("maybe")))
CASES.append(Case("pairs-test-label-2", _train("pawsx"), ("'2'",), "warning",
                  setup=_data("pawsx", "test-de.tsv", PAIRS.replace("\t1\n", "\t2\n")),
                  after=in_results_warnings("'2'")))


# --file and --data-dir: whatever is named explicitly must exist
def _files(*spec):
    def argv(e):
        flags = []
        for item in spec:
            flags += ["--file", item.format(tmp=e.tmp)]
        return train(e, *flags)
    return argv


def _mkdir(e):
    (e.tmp / "folder").mkdir()


def _latin1(e):
    (e.tmp / "latin1.tsv").write_bytes(LATIN1)


CASES += [
    Case("file-test-missing", _files("de:test={tmp}/nope.tsv"), ("de:test", "nope.tsv", "does not exist")),
    Case("file-test-directory", _files("de:test={tmp}/folder"), ("de:test", "folder", "directory"), setup=_mkdir),
    Case("file-train-missing", _files("en:train={tmp}/nope.tsv"), ("en:train", "does not exist")),
    Case("file-train-directory", _files("en:train={tmp}/folder"), ("en:train", "directory"), setup=_mkdir),
    Case("file-dev-directory", _files("en:dev={tmp}/folder"), ("en:dev", "directory"), setup=_mkdir),
    Case("file-dev-missing", _files("en:dev={tmp}/nope.tsv"), ("en:dev", "does not exist")),
    Case("file-one-of-two-missing", _files("de:test={tmp}/latin1.tsv+{tmp}/nope.tsv"), ("nope.tsv",), setup=_latin1),
    Case("file-test-latin1", _files("de:test={tmp}/latin1.tsv"), ("latin1.tsv:3", "UTF-8"), setup=_latin1),
    Case("file-no-language", _files(":test={tmp}/x.tsv"), ("LANG:SPLIT=PATH",)),
    Case("data-dir-missing", lambda e: train(e, "--data-dir", e.tmp / "nowhere"), ("nowhere", "does not exist")),
    Case("data-dir-a-file", lambda e: train(e, "--data-dir", e.tmp / "latin1.tsv"), ("latin1.tsv",), setup=_latin1),
    Case("language-without-data", lambda e: train(e, "--languages", "sw"), ("'sw'",)),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_data_files(case, env, monkeypatch):  # noqa: F811
    assert_expected(case, env, monkeypatch)
