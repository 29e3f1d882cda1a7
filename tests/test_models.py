"""Contract test over every registered task (its kind's head) and fusion; saving and loading."""

from __future__ import annotations

import pytest
import torch

from xling.config import TrainConfig
from xling.features import Collator
from xling.kinds import get_kind
from xling.models import FUSIONS, load_model, save_model
from xling.run import build_run_model, load_tokenizer
from xling.tasks import TASKS
from xling.tasks.examples import ChoiceExample, PairExample, TagExample
from tests import test_image_text, test_qa


def examples_for(task):
    """Two labelled examples of the task's kind (extend when a new kind is added)."""
    labels = list(task.labels or [])
    factories = {
        "pair_classification": lambda: [PairExample("Maria lives in Berlin .", "Berlin is home to Maria .", labels[0]),
                                        PairExample("Paris is big .", "Rome is small .", labels[-1])],
        "tagging": lambda: [TagExample(["Maria", "lives", "in", "Berlin"], [labels[0]] * 4),
                            TagExample(["Rome"], [labels[-1]])],
        "span_qa": test_qa.contract_examples,
        "image_text": lambda: test_image_text.contract_examples(task),
        "multiple_choice": lambda: [ChoiceExample("Maria lives in Berlin .", ["Berlin is big .", "Rome is small ."],
                                                  "cause", 0),
                                    ChoiceExample("Paris is big .", ["Maria lives in Rome .", "It is small ."], "effect", 1)],
    }
    if task.kind not in factories:
        pytest.fail(f"no example factory for kind {task.kind!r}: add one to tests/test_models.py")
    return factories[task.kind]()


FUSION_LAYER = {"aif": 1, "concat": 2}


@pytest.mark.parametrize("task_name", TASKS.names())
@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_task_head_contract(tiny_model, task_name, fusion):
    task = TASKS.get(task_name)
    if task.kind == "retrieval":
        pytest.skip("retrieval has no trainable head")
    cfg = TrainConfig(task=task_name, model=str(tiny_model), fusion=fusion, fusion_layer=FUSION_LAYER.get(fusion))
    torch.manual_seed(0)
    model = build_run_model(task, cfg)
    tokenizer = load_tokenizer(str(tiny_model))
    kind = get_kind(task.kind)
    examples = examples_for(task)
    features = kind.featurize(task, examples, tokenizer, 32, task.label_index() if task.labels else None)
    batch = Collator(tokenizer.pad_token_id)(features)
    tensors = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
    model.train()
    out = model(**tensors, task=task.name)
    assert out.loss is not None and torch.isfinite(out.loss)
    out.loss.backward()
    head_grads = [p.grad for p in model.heads.parameters()]
    assert head_grads and all(g is not None for g in head_grads)
    for p in model.fusion.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    # without labels: no loss, and the kind can decode what the head returns
    model.eval()
    without = {k: v for k, v in tensors.items() if k not in ("labels", "start_positions", "end_positions")}
    with torch.no_grad():
        out = model(**without, task=task.name)
    assert out.loss is None
    outputs = kind.assemble(examples, features, kind.gather(out.logits, batch))
    predictions = kind.decode(task, outputs, examples)
    assert len(predictions) == len(examples)


def test_parameter_groups_and_frozen_embeddings(tiny_bert):
    task = TASKS.get("panx")
    cfg = TrainConfig(task="panx", model=str(tiny_bert), fusion="aif", fusion_layer=1, freeze_embeddings=True)
    model = build_run_model(task, cfg)
    groups = model.parameter_groups()
    assert groups["fusion"] and groups["heads"] and groups["encoder"]
    embeddings = model.encoder.model.get_input_embeddings().weight
    assert not embeddings.requires_grad and all(p is not embeddings for p in groups["encoder"])


def test_save_and_load_round_trip(tiny_model, tmp_path):
    task = TASKS.get("xnli")
    cfg = TrainConfig(task="xnli", model=str(tiny_model), fusion="aif", fusion_layer=2, pooling="mean")
    torch.manual_seed(0)
    model = build_run_model(task, cfg).eval()
    tokenizer = load_tokenizer(str(tiny_model))
    save_model(model, tmp_path / "model", tokenizer)
    loaded = load_model(tmp_path / "model").eval()
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        assert torch.allclose(model(ids, mask).logits, loaded(ids, mask).logits, atol=1e-6)
    assert loaded.spec.heads["xnli"].labels == list(task.labels)
    assert loaded.spec.fusion == "aif" and loaded.fusion.layer == 2
