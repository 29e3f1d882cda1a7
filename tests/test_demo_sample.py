"""Tests for the synthetic demo sample (xling.demo.sample)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xling.demo.sample import (
    NER_TAGS,
    SAMPLE_LANGUAGES,
    sample_sentences,
    write_sample,
)
from xling.errors import ConfigError

SIZES = {"train_size": 60, "dev_size": 20, "test_size": 30}
EXPECTED_FILES = {"train-en.tsv"} | {
    f"{split}-{lang}.tsv" for split in ("dev", "test") for lang in SAMPLE_LANGUAGES
}


def read_panx(path: Path) -> list[list[tuple[str, str]]]:
    sentences: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line == "":
            if current:
                sentences.append(current)
            current = []
            continue
        token, tag = line.split("\t")
        current.append((token, tag))
    if current:
        sentences.append(current)
    return sentences


def read_pawsx(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        s1, s2, label = line.split("\t")
        rows.append((s1, s2, label))
    return rows


def expected_size(name: str, sizes: dict[str, int]) -> int:
    return sizes[name.split("-")[0] + "_size"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_sample(tmp_path_factory.mktemp("sample"), seed=0, **SIZES)


def file_bytes(paths: dict[str, Path]) -> dict[str, bytes]:
    return {
        f"{task}/{f.name}": f.read_bytes()
        for task, folder in paths.items()
        for f in sorted(folder.iterdir())
    }


def test_returns_task_folders(tmp_path: Path) -> None:
    paths = write_sample(tmp_path, **SIZES)
    assert paths == {"panx": tmp_path / "panx", "pawsx": tmp_path / "pawsx"}
    assert all(p.is_dir() for p in paths.values())


def test_expected_file_names(sample: dict[str, Path]) -> None:
    assert SAMPLE_LANGUAGES == ("en", "de", "es", "fr")
    for folder in sample.values():
        assert {f.name for f in folder.iterdir()} == EXPECTED_FILES


def test_default_sizes(tmp_path: Path) -> None:
    paths = write_sample(tmp_path)
    defaults = {"train_size": 600, "dev_size": 150, "test_size": 200}
    for name in EXPECTED_FILES:
        assert len(read_panx(paths["panx"] / name)) == expected_size(name, defaults)
        assert len(read_pawsx(paths["pawsx"] / name)) == expected_size(name, defaults)


def test_panx_sentence_counts_and_format(sample: dict[str, Path]) -> None:
    for name in EXPECTED_FILES:
        path = sample["panx"] / name
        text = path.read_text(encoding="utf-8")
        assert "\n\n\n" not in text and text.endswith("\n") and not text.startswith("\n")
        sentences = read_panx(path)
        assert len(sentences) == expected_size(name, SIZES)
        for sentence in sentences:
            for token, _tag in sentence:
                assert token and not any(c.isspace() for c in token)


def test_panx_tags_are_valid_iob2(sample: dict[str, Path]) -> None:
    for name in EXPECTED_FILES:
        for sentence in read_panx(sample["panx"] / name):
            previous = "O"
            for _token, tag in sentence:
                assert tag in NER_TAGS
                if tag.startswith("I-"):
                    assert previous in (f"B-{tag[2:]}", tag), (name, sentence)
                previous = tag
    assert set(NER_TAGS) == {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"}


@pytest.mark.parametrize("lang", SAMPLE_LANGUAGES)
def test_every_language_has_entities(sample: dict[str, Path], lang: str) -> None:
    tags = [tag for s in read_panx(sample["panx"] / f"test-{lang}.tsv") for _, tag in s]
    for kind in ("PER", "ORG", "LOC"):
        assert tags.count(f"B-{kind}") >= 5, kind
        assert f"I-{kind}" in tags, kind
    assert len(tags) - tags.count("O") >= len(tags) // 5
    entity_tokens = {
        token for s in read_panx(sample["panx"] / f"test-{lang}.tsv") for token, tag in s
        if tag != "O"
    }
    assert len(entity_tokens) >= 20


# Function words that occur in one language's templates and in no other's.
MARKERS = {"en": {"the", "and"}, "de": {"und", "nach"}, "es": {"y", "el"}, "fr": {"et", "à"}}


@pytest.mark.parametrize("lang", SAMPLE_LANGUAGES)
def test_files_are_in_their_language(sample: dict[str, Path], lang: str) -> None:
    others = set().union(*(m for code, m in MARKERS.items() if code != lang))
    panx = {t for s in read_panx(sample["panx"] / f"dev-{lang}.tsv") for t, _ in s}
    pawsx = {
        w for s1, s2, _ in read_pawsx(sample["pawsx"] / f"dev-{lang}.tsv")
        for w in f"{s1} {s2}".split()
    }
    for tokens in (panx, pawsx):
        assert tokens & MARKERS[lang]
        assert not tokens & others


def test_pawsx_counts_labels_and_balance(sample: dict[str, Path]) -> None:
    for name in EXPECTED_FILES:
        rows = read_pawsx(sample["pawsx"] / name)
        assert len(rows) == expected_size(name, SIZES)
        labels = [label for _, _, label in rows]
        assert set(labels) <= {"0", "1"}
        share = labels.count("1") / len(labels)
        assert 0.4 <= share <= 0.6, (name, share)
        for s1, s2, _ in rows:
            assert s1 and s2 and s1 != s2


def test_pawsx_pairs_share_their_words(sample: dict[str, Path]) -> None:
    # PAWS-style: negatives swap roles, so both classes have high word overlap.
    for name in EXPECTED_FILES:
        for label in ("0", "1"):
            overlaps = [
                len(set(s1.split()) & set(s2.split())) / len(set(s1.split()) | set(s2.split()))
                for s1, s2, gold in read_pawsx(sample["pawsx"] / name)
                if gold == label
            ]
            assert sum(overlaps) / len(overlaps) >= 0.5, (name, label)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = write_sample(tmp_path / "a", seed=3, **SIZES)
    b = write_sample(tmp_path / "b", seed=3, **SIZES)
    assert file_bytes(a) == file_bytes(b)
    assert sample_sentences(3, **SIZES) == sample_sentences(3, **SIZES)


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    a = file_bytes(write_sample(tmp_path / "a", seed=0, **SIZES))
    b = file_bytes(write_sample(tmp_path / "b", seed=1, **SIZES))
    assert a.keys() == b.keys()
    assert all(a[name] != b[name] for name in a)


def test_splits_are_drawn_independently(sample: dict[str, Path]) -> None:
    for task in ("panx", "pawsx"):
        dev = (sample[task] / "dev-en.tsv").read_bytes()
        test = (sample[task] / "test-en.tsv").read_bytes()
        train = (sample[task] / "train-en.tsv").read_bytes()
        assert not test.startswith(dev[:200]) and not train.startswith(dev[:200])


def test_sample_sentences_cover_all_files(sample: dict[str, Path]) -> None:
    sentences = sample_sentences(0, **SIZES)
    # One sentence per PAN-X row, two per PAWS-X pair.
    assert len(sentences) == 3 * sum(expected_size(n, SIZES) for n in EXPECTED_FILES)
    assert all(s and "\n" not in s and "\t" not in s for s in sentences)
    as_set = set(sentences)
    for name in EXPECTED_FILES:
        for sentence in read_panx(sample["panx"] / name):
            assert " ".join(token for token, _ in sentence) in as_set
        for s1, s2, _ in read_pawsx(sample["pawsx"] / name):
            assert s1 in as_set and s2 in as_set


def test_default_sample_sentences_match_defaults() -> None:
    sentences = sample_sentences()
    assert len(sentences) == 3 * (600 + 4 * 150 + 4 * 200)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_rejects_bad_sizes(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ConfigError):
        write_sample(tmp_path, dev_size=bad)  # type: ignore[arg-type]
