"""``results.json``: the documented, versioned artifact every report is built from.

The schema is described field by field in ``docs/results-schema.md``; bump
:data:`SCHEMA` when a field changes meaning.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import platform
import re
import resource
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from xling import __version__
from xling.errors import XlingError
from xling.tasks.task import Task

SCHEMA = "xling.results/1"
RESULTS_FILE = "results.json"


_TRANSIENT = {"transient": True}  # a field that is never written to results.json


# How a language scored on another split than asked is noted in its LanguageScore.notes (written by
# xling.data.run_data, read back by the reports, which list the languages once per split and reason). Each
# fact is its own note; results.json files written before that joined the held-out-rows note to the fallback
# one ("test-es has no labels; scored on dev; scored on the 800 of ..."): ``rest`` is that second note.
FALLBACK_NOTE = re.compile(r"^(?P<split>[\w.]+)-(?P<lang>[\w-]+) (?P<reason>was not found|has no labels)"
                           r"; scored on (?P<fallback>[\w.]+)(?:; (?P<rest>.+))?$")


def fallback_note(split: str, lang: str, reason: str, fallback: str) -> str:
    """``"test-de has no labels; scored on dev"``: the note of a language scored on ``fallback``."""
    return f"{split}-{lang} {reason}; scored on {fallback}"


@dataclass
class LanguageScore:
    """One language: the split it was scored on, where that came from, its metrics and (in memory) its outputs.

    ``outputs`` (per-example probabilities, for ensembles and ``.probs.npz``) and ``predictions`` (decoded)
    are kept only while a run needs them; they are never serialised.
    """

    split: str
    source: str
    examples: int
    total_examples: int
    metrics: dict[str, float]
    primary: float
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    sha256: str | None = None  # content hash of the scored examples (xling.data.parallel.content_hash)
    outputs: list[Any] | None = field(default=None, repr=False, compare=False, metadata=_TRANSIENT)
    predictions: list[Any] | None = field(default=None, repr=False, compare=False, metadata=_TRANSIENT)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self)
                if not f.metadata.get("transient")}

    def stored(self, notes: Sequence[str] | None = None) -> "LanguageScore":
        """The score as results.json keeps it (no outputs), with ``notes`` (a fallback split, ...) if given."""
        return dataclasses.replace(self, notes=list(notes) if notes else list(self.notes), outputs=None,
                                   predictions=None)


@dataclass
class Results:
    task: dict[str, Any]
    model: dict[str, Any]
    fusion: dict[str, Any]
    seed: int
    config: dict[str, Any]
    languages: dict[str, LanguageScore]
    averages: dict[str, Any]
    stages: list[dict[str, Any]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)  # what every stage trained / selected on (parallel.py)
    run_dir: str = ""
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    xling_version: str = __version__
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = asdict(dataclasses.replace(self, languages={}))
        data["languages"] = {lang: score.to_dict() for lang, score in self.languages.items()}
        return {"schema": data.pop("schema"), **data}

    def save(self, directory: str | Path, name: str = RESULTS_FILE) -> Path:
        path = Path(directory) / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Results":
        if not isinstance(data, dict):
            raise XlingError(f"not an xling results file (a JSON {type(data).__name__}, not an object)")
        if not str(data.get("schema", "")).startswith("xling.results/"):
            raise XlingError("not an xling results file (no 'schema': 'xling.results/...')")
        if data["schema"] != SCHEMA:
            raise XlingError(f"schema {data['schema']!r} is not one this xling ({__version__}) reads ({SCHEMA}); "
                             "read it with the xling version that wrote it")
        if not isinstance(data.get("languages"), dict):
            raise XlingError("'languages' must map each language to its scores")
        data = dict(data)
        data["languages"] = {k: LanguageScore(**v) for k, v in data["languages"].items()}
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> "Results":
        path = Path(path)
        if path.is_dir():
            path = path / RESULTS_FILE
        if not path.is_file():
            raise XlingError(f"no results file at {path}")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, AttributeError) as exc:
            raise XlingError(f"{path}: unreadable results file ({type(exc).__name__}: {exc})") from None
        except XlingError as exc:
            raise XlingError(f"{path}: {exc}") from None

    @property
    def primary_metric(self) -> str:
        return self.task.get("primary_metric", "")

    def score(self, lang: str) -> float | None:
        entry = self.languages.get(lang)
        return entry.primary if entry else None


def averages(languages: dict[str, LanguageScore], source_language: str,
             metric: str | None = None) -> dict[str, Any]:
    """Mean of the primary score (or of ``metric``, where a language has it) over all languages, and over
    the zero-shot (non-source) ones."""
    scores = ({lang: s.primary for lang, s in languages.items()} if metric is None else
              {lang: s.metrics[metric] for lang, s in languages.items() if metric in s.metrics})
    sources = set(source_language.split("+"))  # "de+en" for multilingual training data
    zero_shot = {lang: v for lang, v in scores.items() if lang not in sources}
    return {
        "all": statistics.fmean(scores.values()) if scores else None,
        "zero_shot": statistics.fmean(zero_shot.values()) if zero_shot else None,
        "num_languages": len(scores),
        "source_language": source_language,
        "scored_on_other_split": sorted(lang for lang, s in languages.items() if s.notes),
    }


def run_results(task: Task, cfg: Any, model: Any, scores: dict[str, LanguageScore],
                source_language: str, *, stages: list[dict[str, Any]], timings: dict[str, Any],
                warnings: list[str], run_dir: str, config: dict[str, Any] | None = None,
                data: list[dict[str, Any]] | None = None) -> Results:
    """The results of a run (``cfg``: its TrainConfig) scored with ``model`` (train, pipeline, evaluate), with provenance."""
    return Results(
        task=task_summary(task), model={"name_or_path": cfg.model, **model.encoder.describe()},
        fusion={"method": cfg.fusion, "layer": cfg.fusion_layer, "options": dict(cfg.fusion_options)},
        seed=cfg.seed, config=config if config is not None else cfg.to_dict(), languages=scores,
        averages=averages(scores, source_language), stages=stages, environment=environment(),
        timings={**timings, "peak_rss_mb": peak_rss_mb(), **gpu_memory()}, warnings=warnings, run_dir=run_dir,
        data=list(data or []),
    )



def task_summary(task: Task) -> dict[str, Any]:
    """The ``task`` section of results.json: a task declaration's name, kind, version and metric."""
    from xling.metrics import METRICS

    summary = {"name": task.name, "kind": task.kind, "version": task.version, "metric": task.metric,
               "primary_metric": METRICS.get(task.metric).primary, "labels": list(task.labels or [])}
    if task.origin:
        summary["file"] = task.origin  # declared in a YAML task file
    return summary


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def gpu_memory() -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {}
    return {"peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20}


def git_revision() -> str | None:
    """The xling checkout's commit (with ``-dirty`` for uncommitted changes), if it is a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        if not rev:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """Library versions, hardware and the code revision, for provenance."""
    import importlib.metadata as md

    import torch

    versions = {}
    for package in ("torch", "transformers", "datasets", "accelerate", "tokenizers", "numpy", "seqeval"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "node": os.environ.get("XLING_NODE") or platform.node(),  # a sweep's Ray node id, else the host
        "device": device,
        "libraries": versions,
        "xling": __version__,
        "git_revision": git_revision(),
    }
