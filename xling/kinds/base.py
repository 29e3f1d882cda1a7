"""The task-kind contract: what differs between kinds of task, all of it in one module per kind.

A :class:`Kind` owns its whole pipeline, in the order data flows through it:

1. **examples**: its example type (``example_type``) and when one is labelled (:meth:`Kind.is_labelled`);
2. **readers**: :meth:`Kind.read` reads one local file (its reader family), :meth:`Kind.from_hub_row`
   maps one Hugging Face dataset row; :meth:`Kind.normalise_labels` and :meth:`Kind.labels_in` handle
   gold label strings;
3. **features**: :meth:`Kind.featurize` turns examples into feature dicts (``input_ids``, ``labels``,
   bookkeeping); the collate keys it adds are ``padded_keys`` (padded per batch, with their pad value)
   and ``stacked_keys`` (fixed-size values stacked as they are); ``label_keys`` are the gold keys kept
   from the model at prediction time;
4. **head**: ``head`` names an entry of :data:`xling.models.HEADS` ("" for none) and
   :meth:`Kind.head_options` gives its constructor options for a run;
5. **decoding and scoring**: :meth:`Kind.gather` (per-feature outputs of a batch of logits),
   :meth:`Kind.assemble` (per-example outputs, kept for ensembles), :meth:`Kind.decode` (predictions),
   :meth:`Kind.references` (gold), :meth:`Kind.score` (metrics), :meth:`Kind.prediction_record` (one
   line of ``predictions/{lang}.jsonl``).

The data loader, the training loop and the evaluator call these and never branch on the kind. A kind
module registers its instance with ``KINDS.register(name, instance)``; :func:`get_kind` imports every
module of :mod:`xling.kinds`, so adding a kind is adding one module (and its test fixture,
``tests/fixtures/kinds/<name>/``, which the contract test in ``tests/test_kinds.py`` picks up).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xling.config import TrainConfig
from xling.data.features import PADDED_KEYS, Collator
from xling.errors import ConfigError
from xling.metrics import METRICS
from xling.registry import Registry
from xling.tasks.task import HubSource, Task

# label_name(raw value, xling field name) -> the label string, or None for "no label" (-1, None, "")
LabelName = Callable[[Any, str], "str | None"]


class Kind:
    """Base class of task kinds; subclasses override what differs (see the module docstring)."""

    name: str = ""
    head: str = ""  # "" : no trainable head (retrieval)
    example_type: type = object
    padded_keys: Mapping[str, int | None] = {}
    stacked_keys: frozenset[str] = frozenset()
    label_keys: frozenset[str] = frozenset({"labels"})
    in_batch_loss: bool = False  # the loss compares the examples of a batch (no micro-batches)
    selects_rows: bool = False  # read() can keep one split's rows of a file holding all (row_filter)
    needs_labels: bool = False  # a task of this kind declares its closed label set
    task_options: frozenset[str] = frozenset({"epochs", "lang3"})  # keys a task's ``options`` may set

    @property
    def trainable(self) -> bool:
        return bool(self.head)

    # ------------------------------------------------------------ examples and readers

    def is_labelled(self, example: Any) -> bool:
        raise NotImplementedError

    def read(self, task: Task, path: str | Path, lang: str, label_file: str | Path | None = None,
             row_filter: tuple[str, str] | None = None) -> tuple[list[Any], bool]:
        """One local file -> ``(examples, labelled)``."""
        raise ConfigError(f"task {task.name!r} of kind {self.name!r} has no file reader")

    def from_hub_row(self, task: Task, hub: HubSource, row: Mapping[str, Any], label_name: LabelName,
                     ident: str) -> Any:
        """One row of a hub dataset -> an example; ``hub.fields`` maps xling's field names to columns."""
        raise ConfigError(f"task kind {self.name!r} cannot be read from the hub")

    def normalise_labels(self, task: Task, examples: list[Any]) -> None:
        """Bring gold labels to the task's spelling in place (default: as read)."""

    def labels_in(self, examples: Sequence[Any]) -> set[str]:
        """Every gold label string in the examples (for unseen-label warnings)."""
        return set()

    # ------------------------------------------------------------ features and head

    def featurize(self, task: Task, examples: Sequence[Any], tokenizer: Any, max_length: int,
                  label_index: dict[str, int] | None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def head_options(self, task: Task, cfg: TrainConfig) -> dict[str, Any]:
        """Options for the head constructor in a run configured by ``cfg``."""
        return {"dropout": cfg.dropout}

    # ------------------------------------------------------------ decoding and scoring

    def gather(self, logits: torch.Tensor, batch: dict[str, Any]) -> list[np.ndarray]:
        """Per-feature outputs from a batch of logits (default: softmax over the last axis)."""
        return list(torch.softmax(logits.float(), dim=-1).cpu().numpy())

    def assemble(self, examples: Sequence[Any], features: Sequence[dict[str, Any]],
                 outputs: Sequence[np.ndarray]) -> list[Any]:
        """Per-example outputs from per-feature outputs (default: one feature per example)."""
        return list(outputs)

    def decode(self, task: Task, outputs: Sequence[Any], examples: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def references(self, task: Task, examples: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def score(self, task: Task, predictions: Sequence[Any], references: Sequence[Any], lang: str) -> dict[str, float]:
        return METRICS.get(task.metric).compute(predictions, references)

    def degenerate(self, task: Task, predictions: Sequence[Any], references: Sequence[Any]) -> str | None:
        """What makes these predictions those of a degenerate model, or None (default: one class for all).

        Only predictions that are single values (labels, choices, answer strings) are checked here;
        a kind whose predictions are sequences says for itself (tagging: no entities, one tag).
        """
        if len(predictions) < 2 or not all(isinstance(p, (str, int)) for p in predictions):
            return None
        gold = {repr(r) for r in references if r is not None}  # QA: each question's answer list
        distinct = set(predictions)
        if len(distinct) == 1 and len(gold) > 1:
            value = next(iter(distinct))
            what = "an empty answer" if value == "" else f"the class {value!r}"
            return f"predicts {what} for all {len(predictions)} examples (the gold data has {len(gold)} different)"
        return None

    def prediction_record(self, example: Any, prediction: Any, reference: Any) -> dict[str, Any]:
        """One line of ``predictions/{lang}.jsonl``."""
        return {"id": getattr(example, "id", ""), "prediction": prediction, "gold": reference}


KINDS: Registry[Kind] = Registry("task kind")


def discover() -> None:
    """Import every module of :mod:`xling.kinds` (each registers its kind)."""
    import xling.kinds as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name != "base":
            importlib.import_module(f"{package.__name__}.{info.name}")


def get_kind(name: str) -> Kind:
    import xling.kinds  # noqa: F401 - its import discovers every kind once

    return KINDS.get(name)


def collator_for(kinds: Iterable[Kind], pad_token_id: int) -> Collator:
    """A collator that pads and stacks the keys of every kind given (a multi-task stage has several)."""
    padded: dict[str, int | None] = dict(PADDED_KEYS)
    stacked: set[str] = set()
    for kind in kinds:
        padded.update(kind.padded_keys)
        stacked |= kind.stacked_keys
    return Collator(pad_token_id, padded, stacked)
