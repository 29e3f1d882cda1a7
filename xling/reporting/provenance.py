"""Where a report's numbers come from, read from the results files: model, data, selection, code, libraries.

Returns plain tables of strings (the HTML page escapes and lays them out); a value that differs between
runs is listed with every distinct value, so a mixed-up comparison shows instead of hiding behind the first run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from xling.reporting.tables import Group
from xling.reporting.results import Results


@dataclass
class Table:
    """A captioned table of strings; ``notes`` are sentences shown under it."""

    caption: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    collapsed: bool = False  # shown folded (long and rarely read)


def distinct(values: Iterable[Any]) -> str:
    """Distinct values in first-seen order, ``; ``-joined (``–`` when there is none)."""
    seen: list[str] = []
    for value in values:
        text = "–" if value is None else str(value)
        if text not in seen:
            seen.append(text)
    return "; ".join(seen) or "–"


def _runs(groups: Sequence[Group]) -> list[tuple[Group, Results]]:
    return [(g, r) for g in groups for r in g.runs]


def model_table(groups: Sequence[Group]) -> Table:
    runs = [r for _, r in _runs(groups)]
    fields = [("model", "name_or_path"), ("type", "type"), ("class", "class"), ("layers", "num_layers"),
              ("hidden size", "hidden_size"), ("parameters", "num_parameters")]
    def shown(value: Any) -> Any:
        return f"{value:,}" if isinstance(value, int) and value >= 10_000 else value  # parameters: 117,653,760

    rows = [[name, distinct(shown(r.model.get(key)) for r in runs)] for name, key in fields]
    return Table("Model", ["field", "value"], rows)


def selection_rule(stage: dict[str, Any]) -> str:
    """One sentence: on which data and by which metric the stage's checkpoint was chosen."""
    sel = stage.get("selection") or {}
    tasks = stage.get("tasks") or []
    if tasks:  # a multi-task stage: each task's own selection set, the mean of their scores
        sets = ", ".join(f"{t.get('task', '?')} {t.get('language', '?')} {(t.get('selection') or {}).get('split', '?')}"
                         for t in tasks)
        text = f"best step by the {sel.get('metric', '?')} on {sets}"
    else:
        text = (f"best step by {sel.get('metric', '?')} on {stage.get('language', '?')} {sel.get('split', '?')} "
                f"({sel.get('examples', '?')} examples)")
    history = stage.get("history") or []
    if history:
        text += f" among {len(history)} evaluation points"
    averaged = stage.get("averaged_checkpoints")
    if averaged:
        text += f"; weights of steps {averaged.get('steps')} averaged"
    return text


def training_table(groups: Sequence[Group]) -> Table:
    """Per column and stage: training data, budget, selection rule and the steps chosen per seed."""
    rows = []
    for group in groups:
        stages = max(len(r.stages) for r in group.runs)
        for i in range(stages):
            present = [(r, r.stages[i]) for r in group.runs if len(r.stages) > i]
            rows.append([
                group.label,
                distinct(f"{s.get('task')} {s.get('language')} {s.get('split')}" for _, s in present),
                distinct(s.get("source") for _, s in present),
                distinct(f"{s.get('examples')} of {s.get('total_examples')}" for _, s in present),
                distinct(s.get("steps") for _, s in present),
                distinct(selection_rule(s) for _, s in present),
                ", ".join(f"s{r.seed}: {(s.get('selection') or {}).get('best_step', '?')}" for r, s in present),
            ])
    if not rows:
        return Table("Training and selection", ["column"], [],
                     ["no training stages recorded (evaluation or retrieval results)"])
    note = ("xling chooses checkpoints on the training language's selection set shown here (its dev set, or a "
            "held-out part of train); target-language data never chooses one (oracle scores are diagnostics).")
    return Table("Training and selection", ["column", "stage", "training data", "examples", "steps",
                                            "selection rule", "best step per seed"], rows, [note])


def evaluation_table(groups: Sequence[Group]) -> Table:
    """Per language: the split scored, n scored (of the split's total), the source file, notes."""
    by_lang: dict[str, list] = {}
    for _, run in _runs(groups):
        for lang, score in run.languages.items():
            by_lang.setdefault(lang, []).append(score)
    rows = [[lang, distinct(s.split for s in scores), distinct(s.examples for s in scores),
             distinct(s.total_examples for s in scores), distinct(s.source for s in scores),
             distinct(n for s in scores for n in s.notes) if any(s.notes for s in scores) else ""]
            for lang, scores in by_lang.items()]
    return Table("Evaluation data", ["language", "split", "n scored", "n in split", "source", "notes"], rows)


def runs_table(groups: Sequence[Group]) -> Table:
    rows = [[g.label, str(r.seed), r.run_dir or "–", r.created, str(r.environment.get("git_revision") or "–"),
             r.xling_version] for g, r in _runs(groups)]
    return Table("Runs", ["column", "seed", "run directory", "created (UTC)", "git revision", "xling"], rows,
                 collapsed=len(rows) > 12)


def environment_table(groups: Sequence[Group]) -> Table:
    runs = [r for _, r in _runs(groups)]
    rows = [["git revision", distinct(r.environment.get("git_revision") for r in runs)],
            ["xling", distinct(r.xling_version for r in runs)]]
    rows += [[name, distinct(r.environment.get(name) for r in runs)] for name in ("python", "platform", "device")]
    libraries = sorted({lib for r in runs for lib in (r.environment.get("libraries") or {})})
    rows += [[lib, distinct((r.environment.get("libraries") or {}).get(lib) for r in runs)] for lib in libraries]
    notes = [f"{row[0]} differs between runs: {row[1]}" for row in rows if "; " in row[1] and row[0] != "device"]
    notes += ["some runs were made with uncommitted changes (-dirty)"] if "-dirty" in rows[0][1] else []
    return Table("Code, environment and library versions", ["", "version"], rows, notes)


def config_table(groups: Sequence[Group]) -> Table:
    """The configuration keys every run shares (what varies is in the column labels)."""
    configs = [r.config for _, r in _runs(groups)]
    keys = [k for k in configs[0] if all(k in c for c in configs)] if configs else []
    shared = [[k, repr(configs[0][k])] for k in keys if all(c[k] == configs[0][k] for c in configs)]
    varying = sorted({k for c in configs for k in c} - {row[0] for row in shared})
    notes = [f"varying between runs: {', '.join(varying)}"] if varying else []
    return Table("Configuration shared by every run", ["key", "value"], shared, notes, collapsed=True)


def warnings_table(groups: Sequence[Group]) -> Table:
    rows = [[g.label, str(r.seed), w] for g, r in _runs(groups) for w in r.warnings]
    return Table("Warnings", ["column", "seed", "warning"], rows,
                 [] if rows else ["no run recorded a warning"])


def provenance(groups: Sequence[Group]) -> list[Table]:
    """Every provenance table of one task's columns, in reading order."""
    return [model_table(groups), training_table(groups), evaluation_table(groups), warnings_table(groups),
            runs_table(groups), environment_table(groups), config_table(groups)]
