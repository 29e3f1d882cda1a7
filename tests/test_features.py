"""Tokenisation per kind, padding and batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xling.data.features import Collator, LengthGroupedBatches, SpecialTokens
from xling.kinds import get_kind
from xling.models.heads import IGNORE_INDEX
from xling.tasks import get_task
from xling.kinds.classification import PairExample
from xling.kinds.tagging import TagExample


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_bert))


def test_special_tokens_template(tokenizer):
    special = SpecialTokens.of(tokenizer)
    assert special.prefix == (tokenizer.cls_token_id,) and special.suffix == (tokenizer.sep_token_id,)


def test_first_subword_labels(tokenizer):
    task = get_task("panx")
    example = TagExample(["Maria", "Schmidtberger", "lives"], ["B-PER", "I-PER", "O"])
    [feature] = get_kind("tagging").featurize(task, [example], tokenizer, 64, task.label_index())
    labelled = [(i, l) for i, l in enumerate(feature["labels"]) if l != IGNORE_INDEX]
    assert [i for i, _ in labelled] == feature["positions"]
    assert [l for _, l in labelled] == [1, 2, 0]
    assert feature["input_ids"][0] == tokenizer.cls_token_id and feature["input_ids"][-1] == tokenizer.sep_token_id
    # words split into several pieces: only the first piece of each is labelled
    pieces = [len(tokenizer(w, add_special_tokens=False)["input_ids"]) for w in example.tokens]
    assert feature["positions"] == [1, 1 + pieces[0], 1 + pieces[0] + pieces[1]]
    assert len(feature["input_ids"]) == 2 + sum(pieces)


def test_long_sentence_is_split_so_every_word_is_scored(tokenizer):
    task = get_task("panx")
    words = [f"Berlin{i}" for i in range(40)]
    example = TagExample(words, ["B-LOC"] * 40)
    kind = get_kind("tagging")
    features = kind.featurize(task, [example], tokenizer, 16, task.label_index())
    assert len(features) > 1
    assert all(len(f["input_ids"]) <= 16 for f in features)
    assert sum(len(f["positions"]) for f in features) == 40
    # fake per-feature probabilities: predict B-LOC everywhere; assembly restores all 40 words in order
    outputs = [np.eye(7)[[5] * len(f["positions"])] for f in features]
    [probs] = kind.assemble([example], features, outputs)
    assert probs.shape == (40, 7)
    assert kind.decode(task, [probs], [example]) == [["B-LOC"] * 40]


def test_word_the_tokenizer_drops_becomes_unk(tokenizer):
    task = get_task("udpos")
    [feature] = get_kind("tagging").featurize(task, [TagExample(["a", "\u200b", "b"], ["X", "X", "X"])],
                                              tokenizer, 32, task.label_index())
    assert len(feature["positions"]) == 3
    assert tokenizer.unk_token_id in feature["input_ids"]


def test_pair_features_and_unknown_label(tokenizer):
    task = get_task("xnli")
    examples = [PairExample("a b c", "d e", "neutral"), PairExample("x", "y", "maybe")]
    features = get_kind("pair_classification").featurize(task, examples, tokenizer, 8, task.label_index())
    assert features[0]["labels"] == 1 and features[1]["labels"] == IGNORE_INDEX
    assert features[0]["input_ids"].count(tokenizer.sep_token_id) == 2


def test_collator_pads_dynamically():
    batch = Collator(pad_token_id=0)([
        {"input_ids": [5, 6, 7], "labels": [1, -100, 2], "example": 0},
        {"input_ids": [5], "labels": [3], "example": 1},
    ])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[1, -100, 2], [3, -100, -100]]
    assert batch["example"] == [0, 1]


def test_collator_multiple_choice_shape():
    batch = Collator(0)([{"input_ids": [[1, 2], [1, 2, 3]], "labels": 1}, {"input_ids": [[4], [5]], "labels": 0}])
    assert batch["input_ids"].shape == (2, 2, 3)
    assert batch["attention_mask"][1].tolist() == [[1, 0, 0], [1, 0, 0]]


def test_length_grouped_batches_cover_everything_and_are_reproducible():
    lengths = list(np.random.default_rng(0).integers(1, 100, size=103))
    sampler = LengthGroupedBatches(lengths, batch_size=8, seed=3, group=4)
    sampler.set_epoch(1)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) == first
    assert sorted(i for b in first for i in b) == list(range(103))
    assert len(first) == len(sampler) == 13
    assert max(lengths[i] for i in first[0]) == max(lengths)  # longest batch first
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first])
    plain = LengthGroupedBatches(lengths, batch_size=8, seed=3, group=None)
    plain_spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in plain])
    assert spread < plain_spread  # grouping reduces padding
    sampler.set_epoch(2)
    assert list(sampler) != first
