"""Multiple choice (XCOPA): features, the head, data layouts, and `xling train --task xcopa` end to end."""

from __future__ import annotations

import json

import pytest
import torch
from torch.nn import functional as F

from tests.conftest import FIXTURES, run_cli
from xling.errors import DataError
from xling.data.features import Collator
from xling.kinds import get_kind
from xling.kinds.choice import ChoiceExample, choice_features, connective_for
from xling.models.choice_head import MultipleChoiceHead
from xling.models.build import load_tokenizer
from xling.tasks import get_task
from xling.data.loading import load_split

XCOPA_DIR = FIXTURES / "xcopa"


def test_connectives_follow_the_question():
    connectives = {"cause": "because", "effect": "so"}
    assert connective_for("cause", connectives) == "because"
    assert connective_for(" Effect ", connectives) == "so"
    assert connective_for("What happened next?", connectives) == "What happened next?"
    assert connective_for("", connectives) == ""


def test_each_choice_is_a_premise_connective_pair(tiny_bert):
    tokenizer = load_tokenizer(str(tiny_bert))
    examples = [ChoiceExample("Maria lives in Berlin .", ["She is happy .", "Rome is small ."], "cause", 1, "a"),
                ChoiceExample("Paris is big .", ["It is old .", "It is new ."], "effect", None, "b")]
    features = choice_features(examples, tokenizer, 64)
    assert len(features) == 2 and features[0]["labels"] == 1 and "labels" not in features[1]
    expected = tokenizer("Maria lives in Berlin .", "because Rome is small .")["input_ids"]
    assert features[0]["input_ids"][1] == expected
    assert features[1]["input_ids"][0] == tokenizer("Paris is big .", "so It is old .")["input_ids"]
    assert len(features[0]["token_type_ids"]) == 2
    batch = Collator(tokenizer.pad_token_id)([{k: v for k, v in f.items() if k != "labels"} for f in features])
    width = max(len(s) for f in features for s in f["input_ids"])
    assert batch["input_ids"].shape == (2, 2, width) and batch["attention_mask"].shape == (2, 2, width)
    assert batch["attention_mask"][0, 0].sum() == len(features[0]["input_ids"][0])


def test_bad_choice_data_fails_loudly(tiny_bert):
    tokenizer = load_tokenizer(str(tiny_bert))
    uneven = [ChoiceExample("a", ["b", "c"], "cause", 0, "x"), ChoiceExample("a", ["b", "c", "d"], "cause", 0, "y")]
    with pytest.raises(DataError, match="same number of choices.*'y' has 3"):
        choice_features(uneven, tokenizer, 16)
    with pytest.raises(DataError, match="label 2 is not a choice index"):
        choice_features([ChoiceExample("a", ["b", "c"], "cause", 2, "z")], tokenizer, 16)


def test_head_scores_each_choice_and_takes_cross_entropy_over_choices():
    head = MultipleChoiceHead(hidden_size=2, pooling="mean", dropout=0.0)
    with torch.no_grad():
        head.score.weight.copy_(torch.tensor([[1.0, -1.0]]))
        head.score.bias.zero_()
    # 2 examples x 2 choices, T = 2; the second token of choice (0, 1) is padding
    features = torch.tensor([[[1.0, 0.0], [3.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]],
                             [[2.0, 2.0], [0.0, 0.0]], [[0.0, 0.0], [4.0, 0.0]]])
    mask = torch.tensor([[1, 1], [1, 0], [1, 1], [1, 1]])
    labels = torch.tensor([0, 1])
    out = head(features, mask, labels=labels, batch_shape=torch.Size([2, 2, 2]))
    # mean-pooled: (2, 0) -> 2; (0, 1) -> -1; (1, 1) -> 0; (2, 0) -> 2
    assert torch.allclose(out.logits, torch.tensor([[2.0, -1.0], [0.0, 2.0]]))
    expected = (F.cross_entropy(torch.tensor([[2.0, -1.0]]), torch.tensor([0]))
                + F.cross_entropy(torch.tensor([[0.0, 2.0]]), torch.tensor([1]))) / 2
    assert out.loss.item() == pytest.approx(expected.item())
    assert head(features, mask, batch_shape=torch.Size([2, 2, 2])).loss is None
    with pytest.raises(ValueError, match=r"\(batch, choices, tokens\)"):
        head(features, mask)


def test_xcopa_local_layouts():
    task = get_task("xcopa")
    train = load_split(task, "en", "train", data_dir=XCOPA_DIR)
    assert train.source.endswith("copa_en/train-en.jsonl") and len(train) == 12
    dev = load_split(task, "it", "dev", data_dir=XCOPA_DIR)  # val.it.jsonl
    assert dev.source.endswith("data/it/val.it.jsonl") and dev.labelled
    test = load_split(task, "zh", "test", data_dir=XCOPA_DIR)
    assert test.examples[0].choices == ["牛奶是新鲜的。", "牛奶变酸了。"] and test.examples[0].label == 1
    assert test.examples[0].question == "cause"


def test_xcopa_hub_rows_are_mapped(monkeypatch):
    import datasets

    from xling.data.loading import load_hub

    rows = datasets.Dataset.from_dict({"premise": ["P"], "choice1": ["A"], "choice2": ["B"], "question": ["effect"],
                                       "label": [1], "idx": [7], "changed": [False]})
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, config, split: calls.append((path, config, split)) or rows)
    task = get_task("xcopa")
    examples, labelled = load_hub(task, task.hub[0], "it", "test")
    assert calls == [("cambridgeltl/xcopa", "it", "test")]
    assert labelled and (examples[0].choices, examples[0].label, examples[0].id) == (["A", "B"], 1, "7")


def test_kind_decodes_the_best_choice():
    kind = get_kind("multiple_choice")
    task = get_task("xcopa")
    logits = torch.tensor([[0.1, 2.0], [3.0, -1.0]])
    outputs = kind.gather(logits, {})
    assert kind.decode(task, outputs, [None, None]) == [1, 0]
    assert kind.score(task, [1, 0], [1, 1], "it")["accuracy"] == 50.0


@pytest.mark.slow
def test_train_xcopa_end_to_end(tiny_model, tmp_path):
    out = tmp_path / "xcopa"
    result = run_cli("train", "--task", "xcopa", "--model", tiny_model, "--data-dir", XCOPA_DIR, "--output-dir", out,
                     "--languages", "en,it,zh", "--epochs", "2", "--batch-size", "4", "--learning-rate", "1e-3",
                     "--quiet", "--seed", "1")
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "results.json").read_text())
    assert data["task"]["kind"] == "multiple_choice"
    assert {lang: v["examples"] for lang, v in data["languages"].items()} == {"en": 4, "it": 3, "zh": 2}
    for entry in data["languages"].values():
        assert entry["split"] == "test" and 0 <= entry["primary"] <= 100
    stage = data["stages"][0]
    assert stage["source"].endswith("train-en.jsonl") and stage["examples"] == 12 and stage["steps"] == 6
    assert stage["selection"]["examples"] == 4  # copa_en/val-en.jsonl
    record = json.loads((out / "predictions" / "it.jsonl").read_text().splitlines()[1])
    assert record["gold"] == 1 and record["prediction"] in (0, 1)
    spec = json.loads((out / "model" / "xling_model.json").read_text())
    assert spec["heads"]["xcopa"]["type"] == "multiple_choice" and spec["heads"]["xcopa"]["options"]["pooling"] == "mean"
    # the saved model (with its multiple-choice head) reloads in a fresh process and scores the same
    again = run_cli("evaluate", "--run", out, "--languages", "it", "--quiet")
    assert again.returncode == 0, again.stderr
    reloaded = json.loads((out / "evaluate-xcopa-test-it.json").read_text())
    assert reloaded["languages"]["it"]["metrics"] == data["languages"]["it"]["metrics"]
