"""``results.json``: the documented, versioned artifact every report is built from.

The schema is described field by field in ``docs/results-schema.md``; bump
:data:`SCHEMA` when a field changes meaning.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from xling import __version__
from xling.errors import XlingError

SCHEMA = "xling.results/1"
RESULTS_FILE = "results.json"


@dataclass
class LanguageScore:
    """One language: the split it was scored on, where that came from, and its metrics."""

    split: str
    source: str
    examples: int
    total_examples: int
    metrics: dict[str, float]
    primary: float
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


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
    run_dir: str = ""
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    xling_version: str = __version__
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"schema": data.pop("schema"), **data}

    def save(self, directory: str | Path, name: str = RESULTS_FILE) -> Path:
        path = Path(directory) / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Results":
        if not str(data.get("schema", "")).startswith("xling.results/"):
            raise XlingError("not an xling results file (no 'schema': 'xling.results/...')")
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
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise XlingError(f"{path}: unreadable results file ({exc})") from None

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
