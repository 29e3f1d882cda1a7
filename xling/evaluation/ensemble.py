"""Ensembles of finished runs: probability averaging, majority vote, weight averaging.

Members are run directories of one task. ``prob`` and ``vote`` combine the members' per-example
probabilities: the saved ``predictions/{lang}.probs.npz`` when they cover exactly the examples
being scored (same count, ids and gold labels), otherwise recomputed from the member's
``model/``. ``weights`` averages the parameters of members that share an architecture and scores
the averaged model. Every member is scored on the same examples as the ensemble, and the
ensemble is written as a ``results.json`` that ``xling report`` reads.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from xling.config import TrainConfig, load_yaml, save_yaml
from xling.data.examples import SplitData
from xling.data.run_data import load_targets, recorded_data
from xling.errors import ConfigError, XlingError
from xling.evaluation.evaluator import eval_token_budget, evaluate_split, score_outputs, write_predictions
from xling.kinds import get_kind
from xling.models import load_model
from xling.models import save_model as write_model
from xling.models.build import load_tokenizer, resolve_mixed_precision
from xling.reporting.results import RESULTS_FILE, LanguageScore, Results, averages, environment, task_summary
from xling.reporting.tables import find_results
from xling.tasks import get_task
from xling.tasks.task import Task
from xling.training.averaging import StateAverager

log = logging.getLogger("xling")

METHODS = ("prob", "vote", "weights")
# Encoder config keys that name or date a checkpoint without changing its architecture.
NOT_ARCHITECTURE = {"_name_or_path", "transformers_version", "_commit_hash"}


@dataclass
class Member:
    """One finished run taking part in the ensemble."""

    run_dir: Path
    results: Results
    label: str

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"


def load_members(paths: Sequence[str | Path], exclude: Path | None = None) -> list[Member]:
    """Runs from directories, results files or folders of runs (``exclude``: the ensemble's own output)."""
    files = [p for p in find_results(paths) if exclude is None or p.parent.resolve() != exclude.resolve()]
    runs = [(p.parent, Results.load(p)) for p in files]
    seen = [d.resolve() for d, _ in runs]
    if len(set(seen)) < len(seen):
        raise ConfigError(f"a run is given twice: {sorted({str(d) for d in seen if seen.count(d) > 1})}")
    if len(runs) < 2:
        raise ConfigError(f"an ensemble needs at least 2 runs, got {len(runs)}")
    tasks = {r.task["name"] for _, r in runs}
    if len(tasks) > 1:
        raise ConfigError(f"ensemble members must share one task, got {sorted(tasks)}")
    root = os.path.commonpath([str(d.resolve()) for d, _ in runs])
    return [Member(d, r, os.path.relpath(d.resolve(), root)) for d, r in runs]


def member_config(member: Member, **overrides: Any) -> TrainConfig:
    """The member's resolved training config (config.yaml) with evaluation overrides."""
    path = member.run_dir / "config.yaml"
    saved = load_yaml(path) if path.is_file() else dict(member.results.config)
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in saved.items() if k in known}).replace(
        **{k: v for k, v in overrides.items() if v is not None})


def common_languages(members: Sequence[Member]) -> list[str]:
    """Languages every member was scored on, in the first member's order."""
    return [lang for lang in members[0].results.languages if all(lang in m.results.languages for m in members)]


# ---------------------------------------------------------------- member outputs


def saved_outputs(member: Member, task: Task, data: SplitData) -> list[np.ndarray] | None:
    """The member's saved probabilities for ``data``, or None when absent or for other examples."""
    directory = member.run_dir / "predictions"
    npz, jsonl = directory / f"{data.lang}.probs.npz", directory / f"{data.lang}.jsonl"
    if not npz.is_file() or not jsonl.is_file():
        return None
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [str(getattr(e, "id", "")) for e in data.examples]
    gold = get_kind(task.kind).references(task, data.examples)
    if [str(r.get("id", "")) for r in records] != ids or [r.get("gold") for r in records] != gold:
        log.info("%s: saved predictions for %s are for other examples; recomputing", member.label, data.describe())
        return None
    with np.load(npz) as arrays:
        if len(arrays.files) != len(ids):
            return None
        return [arrays[f"e{i}"].astype(np.float32) for i in range(len(ids))]


def predict_outputs(model_dir: Path, task: Task, targets: dict[str, SplitData], cfg: TrainConfig,
                    model: Any = None) -> dict[str, LanguageScore]:
    """Score a saved (or given) model on every target, keeping per-example outputs."""
    import torch

    if not model_dir.is_dir():
        raise ConfigError(f"{model_dir.parent} has no saved model (trained with --no-save-model) and no saved "
                          "probabilities for these examples; it cannot take part in the ensemble")
    tokenizer = load_tokenizer(str(model_dir / "encoder"))
    model = model if model is not None else load_model(model_dir)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    return {lang: evaluate_split(model, task, data, tokenizer, max_length=cfg.max_seq_length,
                                 batch_size=cfg.eval_batch_size, device=device,
                                 mixed_precision=resolve_mixed_precision(cfg.mixed_precision),
                                 progress=not cfg.quiet, keep_outputs=True,
                                 max_tokens=eval_token_budget(cfg.eval_tokens, device))
            for lang, data in targets.items()}


def member_outputs(members: Sequence[Member], task: Task, targets: dict[str, SplitData], cfg: TrainConfig,
                   notes: dict[str, list[str]] | None = None
                   ) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict[str, dict[str, LanguageScore]]]:
    """Per member label and language: per-example outputs and the member's score on those examples.

    Saved probabilities are used when they fit; the score is then the member's own recorded one
    (computed from full-precision probabilities; the saved ones are float16). Otherwise the
    member's model is run, with its own sequence length (``cfg`` gives batch size and quietness).
    """
    notes = notes or {}
    outputs: dict[str, dict[str, list[np.ndarray]]] = {}
    scores: dict[str, dict[str, LanguageScore]] = {}
    for member in members:
        saved = {lang: saved_outputs(member, task, data) for lang, data in targets.items()}
        outputs[member.label] = {lang: o for lang, o in saved.items() if o is not None}
        scores[member.label] = {}
        for lang in outputs[member.label]:
            recorded = member.results.languages.get(lang)
            scores[member.label][lang] = recorded if recorded and recorded.examples == len(targets[lang]) else \
                score_outputs(task, targets[lang], outputs[member.label][lang]).stored(notes.get(lang))
        missing = {lang: targets[lang] for lang, o in saved.items() if o is None}
        if missing:
            log.info("%s: computing probabilities for %s with its model", member.label, ", ".join(missing))
            own = member_config(member, eval_batch_size=cfg.eval_batch_size, quiet=cfg.quiet)
            for lang, result in predict_outputs(member.model_dir, task, missing, own).items():
                outputs[member.label][lang] = result.outputs
                scores[member.label][lang] = result.stored(notes.get(lang))
    return outputs, {label: {lang: by_lang[lang] for lang in targets} for label, by_lang in scores.items()}


# ---------------------------------------------------------------- combining outputs


def _stack(per_member: Sequence[Sequence[Any]]) -> list[np.ndarray]:
    """Per example, the members' outputs stacked on a new first axis (shapes must agree)."""
    counts = {len(outputs) for outputs in per_member}
    if len(counts) != 1:
        raise XlingError(f"members have different numbers of examples: {sorted(counts)}")
    stacked = []
    for i, outputs in enumerate(zip(*per_member)):
        if not all(isinstance(o, np.ndarray) for o in outputs):
            raise XlingError("this task's outputs are not probability arrays; they cannot be ensembled")
        if len({o.shape for o in outputs}) != 1:
            raise XlingError(f"example {i}: members' outputs have different shapes {[o.shape for o in outputs]}")
        stacked.append(np.stack([o.astype(np.float64) for o in outputs]))
    return stacked


def average_probabilities(per_member: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Mean of the members' probabilities, per example (and per word for tagging)."""
    return [s.mean(axis=0).astype(np.float32) for s in _stack(per_member)]


def majority_vote(per_member: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Each member votes for its argmax label; ties go to the tied label with the larger summed probability.

    The output is a distribution whose argmax is the winner: (votes + summed probability / (M + 1)),
    normalised. Summed probabilities are below M + 1, so they only order labels with equal votes.
    Votes are argmaxes of the probabilities given (saved ones are float16, so a member whose two
    best labels are within ~5e-4 may vote for the other one).
    """
    out = []
    for s in _stack(per_member):
        votes = np.eye(s.shape[-1])[s.argmax(axis=-1)].sum(axis=0)
        value = votes + s.sum(axis=0) / (s.shape[0] + 1)
        out.append((value / value.sum(axis=-1, keepdims=True)).astype(np.float32))
    return out


COMBINE = {"prob": average_probabilities, "vote": majority_vote}


# ---------------------------------------------------------------- weight averaging


def architecture(member: Member, task: str) -> dict[str, Any]:
    """What must agree for parameters to be averaged: encoder config, fusion spec, the task's head and labels.

    Other heads (a pipeline's intermediate tasks) are not compared; the averaged model drops them.
    """
    spec_path, config_path = member.model_dir / "xling_model.json", member.model_dir / "encoder" / "config.json"
    if not spec_path.is_file() or not config_path.is_file():
        raise ConfigError(f"{member.run_dir} has no saved model (model/); weight averaging needs every member's")
    spec = json.loads(spec_path.read_text())
    encoder = json.loads(config_path.read_text())
    head = spec.get("heads", {}).get(task)
    if head is None:
        raise ConfigError(f"{member.run_dir}'s model has no {task} head")
    head = {"type": head["type"], "labels": head.get("labels", []),
            "options": {k: v for k, v in head.get("options", {}).items() if k != "dropout"}}
    return {"encoder": {k: v for k, v in encoder.items() if k not in NOT_ARCHITECTURE},
            "fusion": spec.get("fusion"), "fusion_layer": spec.get("fusion_layer"),
            "fusion_options": spec.get("fusion_options", {}), "head": head}


def check_same_architecture(members: Sequence[Member], task: str) -> None:
    """Raise a ConfigError naming what differs when members' weights cannot be averaged."""
    first = architecture(members[0], task)
    for member in members[1:]:
        other = architecture(member, task)
        diffs = []
        for key in first:
            if key == "encoder":
                keys = sorted(k for k in set(first[key]) | set(other[key]) if first[key].get(k) != other[key].get(k))
                diffs += [f"encoder {k}: {first[key].get(k)!r} vs {other[key].get(k)!r}" for k in keys]
            elif first[key] != other[key]:
                diffs.append(f"{key}: {first[key]!r} vs {other[key]!r}")
        if diffs:
            raise ConfigError(f"cannot average weights: {members[0].label} and {member.label} have different "
                              f"architectures ({'; '.join(diffs[:5])}); use --method prob or vote")


def average_models(members: Sequence[Member], task: str) -> Any:
    """The first member's model, with only ``task``'s head, carrying the mean of every member's weights."""
    check_same_architecture(members, task)

    def task_only(state: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in state.items() if not k.startswith("heads.") or k.startswith(f"heads.{task}.")}

    model = load_model(members[0].model_dir)
    for name in [n for n in model.heads if n != task]:  # intermediate-task heads of pipelines
        del model.heads[name]
        del model.spec.heads[name]
    averager = StateAverager()
    averager.add(model.state_dict(), members[0].label)
    for member in members[1:]:
        averager.add(task_only(load_model(member.model_dir).state_dict()), member.label)
    model.load_state_dict(averager.average())
    return model


# ---------------------------------------------------------------- the ensemble run


@dataclass
class EnsembleOutcome:
    """The ensemble's results and its comparison with the members, on the same examples."""

    results: Results
    member_scores: dict[str, dict[str, LanguageScore]]
    header: list[str]
    rows: list[list[str]]


def comparison_table(member_scores: dict[str, dict[str, LanguageScore]], ensemble: dict[str, LanguageScore],
                     source_language: str, label: str, digits: int = 1) -> tuple[list[str], list[list[str]]]:
    """Rows per language then avg / avg zero-shot: every member, the best member per row, the ensemble, Δ."""
    def row_values(scores: dict[str, LanguageScore]) -> dict[str, float | None]:
        summary = averages(scores, source_language)
        return {**{lang: s.primary for lang, s in scores.items()},
                "avg": summary["all"], "avg zero-shot": summary["zero_shot"]}

    columns = {name: row_values(scores) for name, scores in member_scores.items()}
    combined = row_values(ensemble)
    header = ["language", *columns, "best member", label, "Δ vs best"]
    rows = []
    for row in combined:
        if combined[row] is None:
            continue
        values = [columns[name][row] for name in columns]
        best = max(v for v in values if v is not None)
        cells = [f"{v:.{digits}f}" if v is not None else "–" for v in (*values, best, combined[row])]
        rows.append([row, *cells, f"{combined[row] - best:+.{digits}f}"])
    return header, rows


def prepare_output(out: Path, overwrite: bool) -> None:
    if (out / RESULTS_FILE).exists() and not overwrite:
        raise ConfigError(f"{out} already holds results ({RESULTS_FILE}); use --overwrite or another --output-dir")
    for name in (RESULTS_FILE, "config.yaml", "predictions", "model"):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def run_ensemble(paths: Sequence[str | Path], output_dir: str | Path, method: str = "prob", *,
                 languages: Sequence[str] | None = None, data_dir: str | None = None,
                 eval_batch_size: int | None = None, quiet: bool = False, overwrite: bool = False,
                 save_model: bool = True, digits: int = 1) -> EnsembleOutcome:
    """Combine finished runs; write ``results.json`` and ``predictions/`` (and ``model/`` for weights)."""
    if method not in METHODS:
        raise ConfigError(f"unknown ensemble method {method!r}; choose from {', '.join(METHODS)}")
    out = Path(output_dir)
    members = load_members(paths, exclude=out)
    if method == "weights":
        check_same_architecture(members, members[0].results.task["name"])  # before any loading or scoring
    prepare_output(out, overwrite)
    task = get_task(members[0].results.task.get("file") or members[0].results.task["name"])
    langs = list(languages or common_languages(members))
    if not langs:
        raise ConfigError("the members have no scored language in common; choose with --languages")
    cfg = member_config(members[0], languages=langs, data_dir=data_dir, eval_batch_size=eval_batch_size,
                        quiet=quiet or None)
    start = time.perf_counter()
    warnings: list[str] = []
    used = [use for m in members for use in recorded_data(task, member_config(m), m.results.data, m.label, warnings)]
    targets, notes, target_warnings = load_targets(task, cfg, used=used)
    warnings += target_warnings
    outputs, member_scores = member_outputs(members, task, targets, cfg, notes)
    if method == "weights":
        model = average_models(members, task.name)
        combined = predict_outputs(members[0].model_dir, task, targets, cfg, model=model)
        if save_model:
            write_model(model, out / "model", load_tokenizer(str(members[0].model_dir / "encoder")))
            save_yaml(cfg.replace(output_dir=str(out)), out / "config.yaml")  # so `xling evaluate --run` works
    else:
        combined = {lang: score_outputs(task, data, COMBINE[method]([outputs[m.label][lang] for m in members]),
                                        keep_outputs=True) for lang, data in targets.items()}
    for lang, data in targets.items():
        write_predictions(task, data, combined[lang], out / "predictions")
    scores = {lang: result.stored(notes.get(lang)) for lang, result in combined.items()}
    source = members[0].results.averages.get("source_language") or cfg.train_language or task.train_language
    configs = [m.results.config for m in members]
    shared = {k: v for k, v in configs[0].items() if all(c.get(k) == v for c in configs[1:])}
    results = Results(
        task=task_summary(task), model=members[0].results.model,
        fusion={"method": f"ensemble:{method}", "layer": None, "options": {}},
        seed=members[0].results.seed,
        config={**shared, "fusion": f"ensemble:{method}", "output_dir": str(out), "languages": list(targets),
                "data_dir": cfg.data_dir, "members": [str(m.run_dir) for m in members]},
        languages=scores, averages=averages(scores, source), environment=environment(),
        timings={"eval_seconds": time.perf_counter() - start}, warnings=warnings, run_dir=str(out),
        data=[record for m in members for record in m.results.data],
    )
    results.save(out)
    header, rows = comparison_table(member_scores, scores, source, f"ensemble ({method})", digits)
    return EnsembleOutcome(results, member_scores, header, rows)
