"""The task-kind contract, for every registered kind, from its fixture in tests/fixtures/kinds/<kind>/.

A kind added to xling/kinds/ is picked up here through KINDS; without a fixture folder the tests fail
and say what to add. A trainable kind is read through the data loader (its reader; its hub mapping where
it has one), featurized, collated with its own keys, trained one step with every fusion method (loss,
gradients into head and fusion), then predicted, assembled, decoded, scored and written as prediction
records. A kind without a head must refuse one and still featurize sentences.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import FIXTURES
from xling.config import TrainConfig
from xling.data.loading import convert_hub_rows, load_split
from xling.errors import ConfigError
from xling.kinds import KINDS, Kind, collator_for
from xling.metrics import METRICS
from xling.models import FUSIONS, Encoder
from xling.models.build import build_run_model, head_spec, load_tokenizer
from xling.tasks import TASKS
from xling.tasks.task import HubSource, LocalPattern, Task

KIND_FIXTURES = FIXTURES / "kinds"
FUSION_LAYER = {"aif": 1, "concat": 2}


@dataclasses.dataclass
class Case:
    """A kind, a toy task of that kind, and its fixture folder."""

    kind: Kind
    task: Task
    folder: Path


def kind_case(name: str) -> Case:
    """The toy task declared by ``tests/fixtures/kinds/<name>/task.json`` (run options resolved there)."""
    folder = KIND_FIXTURES / name
    if not (folder / "task.json").is_file():
        pytest.fail(f"task kind {name!r} has no contract fixture: add {folder}/task.json and a train-en file "
                    f"(see {KIND_FIXTURES}/README.md)")
    spec = json.loads((folder / "task.json").read_text(encoding="utf-8"))
    run_options = {key: str(folder / value) for key, value in spec.pop("run_options", {}).items()}
    local = tuple(LocalPattern(pattern) for pattern in spec.pop("local", ()))
    labels = tuple(spec.pop("labels")) if "labels" in spec else None
    task = Task(name=f"contract-{name}", kind=spec.pop("kind", name), description=f"contract fixture of {name}",
                languages=("en", "de"), labels=labels, local=local,
                options={**spec.pop("options", {}), **run_options}, **spec)
    return Case(KINDS.get(name), task, folder)


def trainable(name: str) -> bool:
    return KINDS.get(name).trainable


TRAINABLE = [name for name in KINDS.names() if trainable(name)]
WITHOUT_HEAD = [name for name in KINDS.names() if not trainable(name)]


# every fusion on the BERT-style encoder; the T5-style one (no CLS, no token types) with the gated fusion
MODEL_FUSIONS = [("bert", f) for f in FUSIONS.names()] + [("mt5", "aif")]


@pytest.fixture(scope="module")
def tiny(tiny_bert, tiny_mt5):
    """Per architecture: its checkpoint, tokenizer and encoder, loaded once (tests get a copy of the encoder)."""
    paths = {"bert": tiny_bert, "mt5": tiny_mt5}
    return {arch: (path, load_tokenizer(str(path)), Encoder.from_pretrained(str(path))) for arch, path in paths.items()}


@pytest.fixture(scope="module")
def bert_tokenizer(tiny):
    return tiny["bert"][1]


def test_every_kind_has_a_fixture_and_every_task_a_registered_kind():
    for name in KINDS.names():
        assert (KIND_FIXTURES / name / "task.json").is_file(), f"add tests/fixtures/kinds/{name}/"
    for name in TASKS.names():
        task = TASKS.get(name)
        assert task.kind in KINDS, f"task {name} names an unregistered kind {task.kind!r}"
        assert task.metric in METRICS


@pytest.mark.parametrize("name", TRAINABLE)
def test_reader_and_hub_rows_give_labelled_examples_of_the_kind(name):
    case = kind_case(name)
    data = load_split(case.task, "en", "train", data_dir=case.folder)
    assert data.labelled and len(data) >= 2
    assert all(isinstance(e, case.kind.example_type) and case.kind.is_labelled(e) for e in data.examples)
    if case.task.labels:
        assert case.kind.labels_in(data.examples) <= set(case.task.labels)
    if type(case.kind).from_hub_row is not Kind.from_hub_row:  # the kind maps hub rows: its fixture shows some
        from datasets import Dataset

        hub = json.loads((case.folder / "hub.json").read_text(encoding="utf-8"))
        source = HubSource("fixture", None, {"train": "train"}, hub["fields"])
        examples, labelled = convert_hub_rows(case.task, source, Dataset.from_list(hub["rows"]))
        assert labelled and len(examples) == len(hub["rows"])
        assert all(isinstance(e, case.kind.example_type) for e in examples)


@pytest.mark.parametrize("name", TRAINABLE)
@pytest.mark.parametrize("arch,fusion", MODEL_FUSIONS)
def test_kind_trains_through_every_fusion_and_decodes_and_scores(tiny, name, arch, fusion):
    case = kind_case(name)
    task, kind = case.task, case.kind
    examples = load_split(task, "en", "train", data_dir=case.folder).examples
    path, tokenizer, encoder = tiny[arch]
    cfg = TrainConfig(task=task.name, model=str(path), fusion=fusion, fusion_layer=FUSION_LAYER.get(fusion))
    torch.manual_seed(0)
    model = build_run_model(task, cfg, copy.deepcopy(encoder))
    features = kind.featurize(task, examples, tokenizer, task.max_seq_length,
                              task.label_index() if task.labels else None)
    assert features and all("input_ids" in f and 0 <= f["example"] < len(examples) for f in features)
    batch = collator_for([kind], tokenizer.pad_token_id)(features)
    tensors = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
    assert set(kind.stacked_keys) & set(batch) <= set(tensors)  # the kind's own keys are collated as tensors
    model.train()
    out = model(**tensors, task=task.name)
    assert out.loss is not None and torch.isfinite(out.loss)
    out.loss.backward()
    head_grads = [p.grad for p in model.heads.parameters()]
    assert head_grads and all(g is not None for g in head_grads)
    # a bias right before a batch norm (train mode) is cancelled by its mean: its gradient is zero up to
    # float32 rounding, which a batch of a few near-equal sequence contexts amplifies past any fixed bound
    # (8e-5 on one CI machine); test_aif_reference checks the cancellation in float64
    cancelled = {id(m.down.bias) for m in model.fusion.modules() if getattr(m, "batch_norm", False)}
    cancelled |= {id(m.up.bias) for m in model.fusion.modules() if getattr(m, "batch_norm", False)}
    for pname, p in model.fusion.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        if id(p) not in cancelled:
            assert p.grad.abs().sum() > 0, pname
    # without gold keys: no loss, and the kind turns what the head returns into scored predictions
    model.eval()
    with torch.no_grad():
        out = model(**{k: v for k, v in tensors.items() if k not in kind.label_keys}, task=task.name)
    assert out.loss is None
    outputs = kind.assemble(examples, features, kind.gather(out.logits, batch))
    predictions = kind.decode(task, outputs, examples)
    references = kind.references(task, examples)
    assert len(outputs) == len(predictions) == len(references) == len(examples)
    metrics = kind.score(task, predictions, references, "en")
    assert METRICS.get(task.metric).primary in metrics
    for example, prediction, reference in zip(examples, predictions, references):
        json.dumps(kind.prediction_record(example, prediction, reference))


@pytest.mark.parametrize("task_name", [n for n in TASKS.names() if trainable(TASKS.get(n).kind)])
def test_every_task_gets_its_kinds_head_and_predicts_the_fixture(tiny, task_name):
    """Each declared task (its labels and options) with its kind's fixture examples: head, features, decoding."""
    declared = TASKS.get(task_name)
    case = kind_case(declared.kind)
    run_options = {k: v for k, v in case.task.options.items() if k not in declared.options}
    task = dataclasses.replace(declared, options={**declared.options, **run_options})
    path, tokenizer, encoder = tiny["bert"]
    cfg = TrainConfig(task=task_name, model=str(path))
    spec = head_spec(task, cfg)
    assert spec.type == case.kind.head and spec.labels == list(task.labels or [])
    examples = load_split(case.task, "en", "train", data_dir=case.folder).examples
    model = build_run_model(task, cfg, copy.deepcopy(encoder)).eval()
    features = case.kind.featurize(task, examples, tokenizer, 48, task.label_index() if task.labels else None)
    batch = collator_for([case.kind], tokenizer.pad_token_id)(features)
    with torch.no_grad():
        out = model(**{k: v for k, v in batch.items()
                       if isinstance(v, torch.Tensor) and k not in case.kind.label_keys}, task=task.name)
    outputs = case.kind.assemble(examples, features, case.kind.gather(out.logits, batch))
    assert len(case.kind.decode(task, outputs, examples)) == len(examples)


@pytest.mark.parametrize("name", WITHOUT_HEAD)
def test_kind_without_a_head_refuses_training_and_featurizes_sentences(bert_tokenizer, name):
    case = kind_case(name)
    with pytest.raises(ConfigError):
        case.kind.head_options(case.task, TrainConfig())
    sentences = (case.folder / "sentences.txt").read_text(encoding="utf-8").splitlines()
    features = case.kind.featurize(case.task, sentences, bert_tokenizer, 16, None)
    assert [f["example"] for f in features] == list(range(len(sentences)))
    assert all(len(f["input_ids"]) <= 16 for f in features)
