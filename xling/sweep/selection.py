"""``select:``: choose options per config on the English selection set, never on a target language.

The score of a candidate run is what its own model selection recorded: ``results.json``
``stages[-1]["selection"]["best_score"]``, the best English dev (or held-out) score of its last stage (the
target stage of a pipeline). A candidate's score is the mean over the selection seeds; the highest wins, the
first listed on a tie. The target languages' scores are in the same files but are never read here.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.sweep.state import RESULTS


class SelectionError(XlingError):
    """A candidate run cannot be scored on English (another selection language, unreadable results)."""


def selection_score(run_dir: Path) -> dict[str, Any]:
    """The English selection score of a finished run, with what it was measured on."""
    path = run_dir / RESULTS
    try:
        stage = json.loads(path.read_text(encoding="utf-8"))["stages"][-1]
        selection = stage["selection"]
        score = float(selection["best_score"])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SelectionError(f"{path}: no selection score (stages[-1].selection.best_score): {exc}") from None
    language = str(stage.get("language", ""))
    if "en" not in language.split("+"):
        raise SelectionError(f"{path}: its model was selected on {language or '?'} data, not English; "
                             "select on: english-dev needs English training and selection data")
    return {"score": score, "metric": selection.get("metric"), "split": selection.get("split"),
            "language": language, "examples": selection.get("examples"), "step": selection.get("best_step")}


def choose(out: Path, group: dict[str, Any]) -> dict[str, Any]:
    """Score every candidate of ``group`` (manifest form) and pick the best; returns the updated group."""
    scored, about = [], {}
    for candidate in group["candidates"]:
        scores = {}
        for seed, key in candidate["runs"].items():
            record = selection_score(out / key)
            scores[seed] = record["score"]
            about = record
        mean = statistics.fmean(scores.values())
        scored.append({**candidate, "scores": scores, "mean": mean,
                       "std": statistics.stdev(scores.values()) if len(scores) > 1 else None})
    best = max(range(len(scored)), key=lambda i: (scored[i]["mean"], -i))
    seeds = len(group["select_seeds"])
    reason = (f"highest mean English selection {about.get('metric')} over {seeds} seed(s) "
              f"({about.get('split')} of {about.get('language')}, {about.get('examples')} examples); "
              "target languages not used")
    return {**group, "candidates": scored, "chosen": best, "state": "chosen", "reason": reason}


def block(group: dict[str, Any], failed: list[str]) -> dict[str, Any]:
    """A candidate failed for good: no choice is made for this group (its final runs are not run)."""
    return {**group, "state": "blocked", "chosen": None,
            "reason": f"not chosen: candidate run(s) {', '.join(failed)} failed"}


def describe(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def selection_table(groups: list[dict[str, Any]], digits: int = 2) -> str:
    """Markdown: every candidate's English selection score per config, the chosen one marked, and why."""
    if not groups:
        return ""
    keys = list(dict.fromkeys(k for g in groups for k in g["keys"]))
    lines = [f"### selection of {', '.join(keys)} on English dev (target languages never used)", "",
             "| task | config | candidate | seeds | English selection score | chosen |", "|---|---|---|---:|---:|---|"]
    notes = []
    for group in groups:
        for i, candidate in enumerate(group["candidates"]):
            scores = candidate.get("scores") or {}
            if "mean" in candidate:
                cell = f"{candidate['mean']:.{digits}f}"
                cell += f" ± {candidate['std']:.{digits}f}" if candidate.get("std") is not None else ""
            else:
                cell = "–"
            mark = "**yes**" if group.get("chosen") == i else ""
            lines.append(f"| {group['task']} | {group['label']} | {describe(candidate['values'])} | "
                         f"{len(scores) or len(candidate['runs'])} | {cell} | {mark} |")
        state = group.get("state")
        reason = group.get("reason") or ("waiting for the candidate runs" if state == "waiting" else "")
        notes.append(f"- {group['task']}/{group['label']}: " + (
            f"chose {describe(group['candidates'][group['chosen']]['values'])}: {reason}" if state == "chosen"
            else reason))
    return "\n".join(lines + [""] + notes) + "\n"
