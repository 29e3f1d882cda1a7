"""Synthetic multilingual sample data for the ``xling demo`` pipeline check.

This is SYNTHETIC TEMPLATE DATA written for the xling demo. It is not copied
from any dataset, and it is not a benchmark: the sentences come from a few
hand-written templates and word lists, and every split uses the same ones.
Scores on it only show that the pipeline runs from start to end (reading
files, training on English, zero-shot evaluation on other languages). They
say nothing about how well a model transfers across languages.

Two tasks in four languages (en, de, es, fr), in the XTREME file layouts:

* ``panx/``: NER like PAN-X. ``train-en.tsv`` and ``dev-{lang}.tsv`` /
  ``test-{lang}.tsv`` for every language. One ``token<TAB>tag`` per line, a
  blank line between sentences, IOB2 tags over PER, ORG and LOC.
* ``pawsx/``: paraphrase identification like PAWS-X, with the same file
  names. Each line is ``sentence1<TAB>sentence2<TAB>label`` with no header.
  Label 1 means the two sentences say the same thing in other words. Label
  0 means the roles are swapped ("A visited B" / "B visited A"), so most
  words are shared but the meaning is different. The two classes are the
  same size. (Too hard for the demo's tiny random encoder: it stays at
  chance, so the demo trains NER only; the files serve tests and readers.)

Tokens are separated by single spaces, and punctuation is its own token.
The output depends only on the arguments: the same seed and sizes always
give the same bytes. Each split is drawn with its own random stream.
"""

from __future__ import annotations

import random
from pathlib import Path

from xling.demo.lexicon import CITIES, COUNTRIES, NER_TEMPLATES, ORGANISATIONS, PAWS_RELATIONS, PERSONS
from xling.errors import ConfigError

__all__ = ["SAMPLE_LANGUAGES", "NER_TAGS", "write_sample", "sample_sentences"]

SAMPLE_LANGUAGES = ("en", "de", "es", "fr")
NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

_YEARS = range(1950, 2024)


def _name(entry: str | tuple[str, ...], lang: str) -> str:
    """The form of a lexicon entry in ``lang`` (shared names are plain strings)."""
    if isinstance(entry, str):
        return entry
    return entry[SAMPLE_LANGUAGES.index(lang)]


def _fillers(rng: random.Random, lang: str) -> dict[str, tuple[str, str | None]]:
    """Draw one value per slot: slot -> (text, entity type or None)."""
    per, per2 = rng.sample(PERSONS, 2)
    org, org2 = rng.sample(ORGANISATIONS, 2)
    city, city2 = rng.sample(CITIES, 2)
    return {
        "PER": (per, "PER"), "PER2": (per2, "PER"),
        "ORG": (_name(org, lang), "ORG"), "ORG2": (_name(org2, lang), "ORG"),
        "CITY": (_name(city, lang), "LOC"), "CITY2": (_name(city2, lang), "LOC"),
        "COUNTRY": (_name(rng.choice(COUNTRIES), lang), "LOC"),
        "YEAR": (str(rng.choice(_YEARS)), None),
    }


def _ner_sentence(rng: random.Random, lang: str) -> list[tuple[str, str]]:
    """One tagged sentence: a list of (token, IOB2 tag)."""
    template = rng.choice(NER_TEMPLATES[lang])
    fillers = _fillers(rng, lang)
    tagged: list[tuple[str, str]] = []
    for word in template.split(" "):
        if word.startswith("{") and word.endswith("}"):
            text, label = fillers[word[1:-1]]
            for i, token in enumerate(text.split(" ")):
                tag = "O" if label is None else ("B-" if i == 0 else "I-") + label
                tagged.append((token, tag))
        else:
            tagged.append((word, "O"))
    return tagged


def _paws_pair(rng: random.Random, lang: str, label: int) -> tuple[str, str, int]:
    """One sentence pair; label 1 rewords the sentence, label 0 swaps roles."""
    kind, forms_by_lang = rng.choice(PAWS_RELATIONS)
    forms = forms_by_lang[lang]
    pool = {"per": PERSONS, "org": ORGANISATIONS, "city": CITIES}[kind]
    a, b = (_name(x, lang) for x in rng.sample(pool, 2))
    slots = {
        "Y": str(rng.choice(_YEARS)),
        "P": rng.choice(PERSONS),
        "O": _name(rng.choice(ORGANISATIONS), lang),
    }
    if label == 1:
        first, second = rng.sample(forms, 2)
        s1 = first.format(A=a, B=b, **slots)
        s2 = second.format(A=a, B=b, **slots)
    else:
        first, second = rng.choice(forms), rng.choice(forms)
        s1 = first.format(A=a, B=b, **slots)
        s2 = second.format(A=b, B=a, **slots)
    if rng.random() < 0.5:
        s1, s2 = s2, s1
    return s1, s2, label


def _splits(train_size: int, dev_size: int, test_size: int) -> list[tuple[str, str, int]]:
    """(split, lang, size) in a fixed order: train is English only."""
    out = [("train", "en", train_size)]
    for split, size in (("dev", dev_size), ("test", test_size)):
        out.extend((split, lang, size) for lang in SAMPLE_LANGUAGES)
    return out


def _generate(seed: int, train_size: int, dev_size: int, test_size: int) -> dict:
    """All data in memory: {(task, split, lang): rows}, one random stream per file."""
    for name, size in (("train_size", train_size), ("dev_size", dev_size),
                       ("test_size", test_size)):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"{name} must be a positive integer, got {size!r}")
    master = random.Random(seed)
    data: dict = {}
    for task in ("panx", "pawsx"):
        for split, lang, size in _splits(train_size, dev_size, test_size):
            rng = random.Random(master.getrandbits(64))
            if task == "panx":
                rows = [_ner_sentence(rng, lang) for _ in range(size)]
            else:
                labels = [i % 2 for i in range(size)]
                rng.shuffle(labels)
                rows = [_paws_pair(rng, lang, label) for label in labels]
            data[task, split, lang] = rows
    return data


def write_sample(
    directory: str | Path,
    *,
    seed: int = 0,
    train_size: int = 600,
    dev_size: int = 150,
    test_size: int = 200,
) -> dict[str, Path]:
    """Write the sample under ``directory``; return ``{"panx": ..., "pawsx": ...}``.

    Sizes count sentences (PAN-X) or pairs (PAWS-X) per file. Existing files
    with the same names are overwritten.
    """
    data = _generate(seed, train_size, dev_size, test_size)
    root = Path(directory)
    paths = {"panx": root / "panx", "pawsx": root / "pawsx"}
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
    for (task, split, lang), rows in data.items():
        if task == "panx":
            text = "\n".join(
                "".join(f"{token}\t{tag}\n" for token, tag in sentence) for sentence in rows
            )
        else:
            text = "".join(f"{s1}\t{s2}\t{label}\n" for s1, s2, label in rows)
        with open(paths[task] / f"{split}-{lang}.tsv", "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return paths


def sample_sentences(
    seed: int = 0, *, train_size: int = 600, dev_size: int = 150, test_size: int = 200
) -> list[str]:
    """Every sentence that ``write_sample`` would write with these arguments, as raw text.

    Covers all languages and both tasks (both sides of each PAWS-X pair), for
    training a tiny tokenizer on the fly.
    """
    data = _generate(seed, train_size, dev_size, test_size)
    sentences: list[str] = []
    for (task, _split, _lang), rows in data.items():
        if task == "panx":
            sentences.extend(" ".join(token for token, _ in sentence) for sentence in rows)
        else:
            for s1, s2, _label in rows:
                sentences.extend((s1, s2))
    return sentences
