"""Readers on few-line fixtures of every format: pairs, CoNLL columns, CoNLL-U, SQuAD, COPA."""

from __future__ import annotations

import gzip

import pytest

from xling.errors import DataError
from xling.kinds.choice import read_choices
from xling.kinds.classification import read_pairs
from xling.kinds.qa import read_squad
from xling.kinds.tagging import read_tags
from tests.conftest import FIXTURES


def test_pairs_three_columns_crlf():
    examples, labelled = read_pairs(FIXTURES / "xtreme_pairs/dev-en.tsv")
    assert labelled
    assert [e.label for e in examples] == ["entailment", "contradiction", "neutral"]
    assert examples[0].text_b == "A cat was sitting ."  # no trailing \r left anywhere


def test_pairs_two_columns_are_unlabelled():
    examples, labelled = read_pairs(FIXTURES / "xtreme_pairs/test-fr.tsv")
    assert not labelled and examples[0].label is None


def test_pairs_labels_file_attaches_row_aligned_labels():
    examples, labelled = read_pairs(FIXTURES / "xtreme_pairs/test-de.tsv",
                                            FIXTURES / "xtreme_pairs/test-labels.tsv")
    assert labelled
    assert [e.label for e in examples] == ["entailment", "contradiction"]
    assert examples[0].text_a == "Die Katze saß ."


def test_pairs_labels_file_with_wrong_length(tmp_path):
    labels = tmp_path / "labels.tsv"
    labels.write_text("index\tlabel\n0\tneutral\n")
    with pytest.raises(DataError, match="row-aligned"):
        read_pairs(FIXTURES / "xtreme_pairs/test-de.tsv", labels)


def test_pairs_header_columns_by_name():
    examples, labelled = read_pairs(FIXTURES / "xtreme_pairs/test-es.labeled.tsv")
    assert labelled
    assert [(e.id, e.text_a, e.label) for e in examples] == [("7", "A b .", "0"), ("9", "C d .", "1")]


def test_pairs_gzip_and_malformed_line(tmp_path):
    path = tmp_path / "dev-xx.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("a\tb\t1\nonly one field here\n")
    with pytest.raises(DataError, match=r"dev-xx.tsv.gz:2: expected 3 tab-separated fields"):
        read_pairs(path)


def test_pairs_mixed_labels_is_an_error(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("id\tsentence1\tsentence2\tlabel\n1\ta\tb\t1\n2\tc\td\t\n")
    with pytest.raises(DataError, match=r"x.tsv:3: this record is unlabelled"):
        read_pairs(path)


def test_tags_token_tag_columns():
    examples, labelled = read_tags(FIXTURES / "ner_columns/train-en.tsv")
    assert labelled
    assert examples[0].tokens == ["Maria", "lives", "in", "Berlin"]
    assert examples[0].tags == ["B-PER", "O", "O", "B-LOC"]
    assert examples[1].tags == ["B-ORG"]


def test_tags_leading_index_column():
    examples, _ = read_tags(FIXTURES / "ner_columns/dev-de.tsv")
    assert examples[0].tokens == ["Anna", "Schmidt", "lacht"]
    assert examples[0].tags == ["B-PER", "I-PER", "O"]


def test_tags_single_column_is_unlabelled():
    examples, labelled = read_tags(FIXTURES / "ner_columns/test-es.tsv")
    assert not labelled and examples[0].tags is None and len(examples) == 2


def test_tags_gzipped():
    examples, labelled = read_tags(FIXTURES / "ner_columns/dev-en.tsv.gz")
    assert labelled and examples[0].tokens[0] == "Maria"


def test_tags_half_labelled_sentence_names_the_line():
    with pytest.raises(DataError, match=r"test-fr.tsv:2: this record is unlabelled"):
        read_tags(FIXTURES / "ner_columns/test-fr.tsv")


def test_tags_language_prefix_removed():
    examples, _ = read_tags(FIXTURES / "ner_columns/test-en.tsv", lang="en")
    assert examples[0].tokens == ["Maria", "sings"]


def test_conllu_skips_ranges_and_empty_nodes():
    examples, labelled = read_tags(FIXTURES / "conllu/en_tiny-ud-test.conllu")
    assert labelled
    assert examples[0].tokens == ["I", "do", "n't", "know", "."]
    assert examples[0].tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert examples[1].tags == ["INTJ"]


def test_conllu_xpos_column():
    examples, _ = read_tags(FIXTURES / "conllu/en_tiny-ud-test.conllu", tag_column="xpos")
    assert examples[0].tags[0] == "PRP"


def test_conllu_short_line_names_the_line():
    with pytest.raises(DataError, match=r"de_bad-ud-test.conllu:3: expected 10 CoNLL-U columns, got 4"):
        read_tags(FIXTURES / "conllu/de_bad-ud-test.conllu")


def test_squad_json():
    examples, labelled = read_squad(FIXTURES / "squad.json")
    assert labelled and [e.id for e in examples] == ["q1", "q2"]
    assert examples[1].answers[0] == {"text": "Germany", "answer_start": 25}
    assert examples[1].context[25:32] == "Germany"


def test_squad_not_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"data": [}')
    with pytest.raises(DataError, match="bad.json:1: not valid JSON"):
        read_squad(path)


def test_copa_jsonl():
    examples, labelled = read_choices(FIXTURES / "copa.jsonl")
    assert labelled
    assert examples[0].choices == ["He dropped a hammer on his foot.", "He got a hole in his sock."]
    assert examples[1].question == "effect" and examples[1].label == 1


def test_bom_is_stripped(tmp_path):
    path = tmp_path / "b.tsv"
    path.write_bytes("\ufeffa\tb\t1\n".encode("utf-8"))
    examples, _ = read_pairs(path)
    assert examples[0].text_a == "a"
