"""Tables built from results files (never from logs); :mod:`xling.reporting.plots` draws them.

Runs that differ only by seed form one column, shown as mean ± std
(sample standard deviation over seeds); languages are rows, followed by the
average over all languages and over the zero-shot ones.
"""

from __future__ import annotations

import ast
import csv
import functools
import io
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.reporting.results import FALLBACK_NOTE, RESULTS_FILE, Results, averages

# Config keys that do not make two runs different experiments.
NOT_EXPERIMENT = {"seed", "output_dir", "resume", "overwrite", "quiet", "num_workers", "eval_batch_size",
                  "eval_tokens", "fused_optimizer", "max_tokens_per_batch", "gradient_checkpointing", "compile",
                  "checkpoint_every", "checkpoint_minutes", "save_model", "save_predictions", "oracle_selection",
                  "max_oracle_examples", "languages", "data_dir", "files", "report_to", "logging_steps"}
AVERAGE_ROWS = ("avg", "avg zero-shot")


def find_results(paths: Sequence[str | Path]) -> list[Path]:
    """Results files from run directories, results files, or folders holding many runs."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif (path / RESULTS_FILE).is_file():
            found.append(path / RESULTS_FILE)
        elif path.is_dir():
            # not below hidden folders: .xling-previous/ holds a run that --overwrite replaces
            nested = sorted(p for p in path.rglob(RESULTS_FILE)
                            if not any(part.startswith(".") for part in p.relative_to(path).parts[:-1]))
            if not nested:
                raise XlingError(f"no {RESULTS_FILE} in {path} or below")
            found += nested
        else:
            raise XlingError(f"{path} is neither a run directory nor a results file")
    return found


@dataclass
class Group:
    """Runs of one experiment (they differ only by seed)."""

    label: str
    task: str
    runs: list[Results]
    metric: str | None = None  # None: the task's primary metric (whose averages the runs store)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    def values(self, row: str) -> list[float]:
        if self.metric is not None:
            return self._metric_values(row)
        if row == "avg":
            return [r.averages["all"] for r in self.runs if r.averages.get("all") is not None]
        if row == "avg zero-shot":
            return [r.averages["zero_shot"] for r in self.runs if r.averages.get("zero_shot") is not None]
        return [r.languages[row].primary for r in self.runs if row in r.languages]

    def _metric_values(self, row: str) -> list[float]:
        """Another metric than the primary one: per language as stored, averages as results.averages computes."""
        if row not in AVERAGE_ROWS:
            return [r.languages[row].metrics[self.metric] for r in self.runs
                    if row in r.languages and self.metric in r.languages[row].metrics]
        key = "all" if row == "avg" else "zero_shot"
        means = [averages(r.languages, str(r.averages.get("source_language", "en")), self.metric)[key]
                 for r in self.runs]
        return [m for m in means if m is not None]

    def other_split(self, lang: str) -> bool:
        return any(lang in r.languages and r.languages[lang].notes for r in self.runs)


def _experiment_config(results: Results) -> dict[str, Any]:
    return {k: v for k, v in results.config.items() if k not in NOT_EXPERIMENT}


def experiment_key(results: Results) -> tuple:
    config = _experiment_config(results)
    if config.get("members"):
        # an ensemble is the same experiment as another whose members differ from its own only by seed
        config["members"] = _member_keys(config["members"])
    return tuple(sorted((k, repr(v)) for k, v in config.items()))


def _member_keys(members: Sequence[str]) -> Any:
    """The members' own experiment keys (sorted), or their paths where a member's results are not readable."""
    keys = [_member_key(str(member)) for member in members]
    return list(members) if None in keys else sorted(keys)


@functools.lru_cache(maxsize=256)
def _member_key(member: str) -> tuple | None:
    """One member's experiment key, read once per path (a table and its plot group the same runs)."""
    try:
        return experiment_key(Results.load(Path(member) / RESULTS_FILE))
    except (OSError, ValueError, KeyError, XlingError):
        return None


def _source_name(source: str) -> str:
    """A language's data source without the folder it lay in (the same files in two checkouts are one source)."""
    if source.startswith("hub:"):
        return source
    return ",".join(Path(part.strip().split(" + labels ")[0].split(" [")[0]).name for part in source.split(","))


def evaluation_key(results: Results) -> tuple:
    """The identity of a run's evaluation data: per language the split, n, total rows and source file."""
    return tuple(sorted((lang, s.split, s.examples, s.total_examples, _source_name(s.source))
                        for lang, s in results.languages.items()))


def run_identity(results: Results) -> tuple:
    """What makes two results files the same run (a copy in another folder has all of it)."""
    scores = tuple(sorted((lang, s.primary) for lang, s in results.languages.items()))
    return (results.run_dir, results.created, results.seed, experiment_key(results), scores)


def check_duplicates(runs: Sequence[Results]) -> None:
    """The same run counted twice (given twice, or its results copied to another folder) is an error."""
    seen: dict[tuple, Results] = {}
    for run in runs:
        key = run_identity(run)
        if key in seen:
            first, second = (getattr(r, "path", None) or r.run_dir or "?" for r in (seen[key], run))
            raise XlingError(f"the same run is counted twice: {first} and {second} (run {run.run_dir or '?'}, "
                             f"seed {run.seed}, created {run.created}); remove the copy, or it counts as two seeds")
        seen[key] = run


def group_runs(runs: Sequence[Results], metric: str | None = None) -> list[Group]:
    """Runs of one experiment (same config but for the seed) scored on the same data (same evaluation key)."""
    check_duplicates(runs)
    groups: dict[tuple, list[Results]] = {}
    for run in runs:
        groups.setdefault((experiment_key(run), evaluation_key(run)), []).append(run)
    keys = list(groups)
    varying = _varying_keys([dict(k[0]) for k in keys])
    labels = [groups[k][0].config.get("label")  # a sweep's config name (xling.sweep.table)
              or _label(dict(experiment_key_shown(groups[k][0])), varying, len(groups[k])) for k in keys]
    labels = _label_evaluations(labels, [k[1] for k in keys])
    return [Group(label, groups[k][0].task["name"], groups[k], metric) for label, k in zip(labels, keys)]


def _label_evaluations(labels: list[str], evaluations: list[tuple]) -> list[str]:
    """Columns of one config scored on different data: say on what (languages, else split and n, else a number)."""
    out = list(labels)
    for label in set(labels):
        same = [i for i, other in enumerate(labels) if other == label]
        if len(same) < 2:
            continue
        langs = {i: ",".join(e[0] for e in evaluations[i]) for i in same}
        sizes = {i: ",".join(sorted({f"{e[1]} n={e[2]}" for e in evaluations[i]})) for i in same}
        for number, i in enumerate(same, 1):
            if len(set(langs.values())) == len(same):
                out[i] = f"{label} [on {langs[i]}]"
            elif len(set(sizes.values())) == len(same):
                out[i] = f"{label} [{sizes[i]}]"
            else:
                out[i] = f"{label} [eval data {number}]"
    return out


def experiment_key_shown(results: Results) -> tuple:
    """Like :func:`experiment_key`, with an ensemble's member paths kept (they name the members in labels)."""
    return tuple(sorted((k, repr(v)) for k, v in _experiment_config(results).items()))


def _varying_keys(configs: list[dict[str, str]]) -> list[str]:
    keys = sorted({k for c in configs for k in c})
    return [k for k in keys if len({c.get(k) for c in configs}) > 1]


EMPTY_VALUES = ("None", "", "[]", "{}", "()")
SEED_SUFFIX = re.compile(r"[-_.]?(s|seed)\d+$")


def _label(config: dict[str, str], varying: list[str], runs: int = 1) -> str:
    def raw(key: str) -> Any:
        value = config.get(key, "None")
        return value.strip("'") if isinstance(value, str) else value

    parts = []
    if "fusion" in varying or "fusion_layer" in varying or not varying:
        layer = raw("fusion_layer")
        parts.append(raw("fusion") + (f"@{layer}" if layer not in ("None", None) else ""))
    for key in varying:
        if key in ("fusion", "fusion_layer", "task"):
            continue
        value = raw(key)
        if value in EMPTY_VALUES:  # the option is unset here: nothing to say, except
            if key == "intermediate" and raw("members") in EMPTY_VALUES:  # a single run beside pipelines
                parts.append("no intermediate")
            continue
        if key == "members":  # an ensemble's run directories: their names are enough to tell ensembles apart
            names = [Path(str(m)).name for m in ast.literal_eval(value)]
            if runs > 1:  # several seeds in one column: name the members without their seed
                names = [SEED_SUFFIX.sub("", n) or n for n in names]
            value = "+".join(names)
        parts.append(f"{key}={value}")
    return " ".join(parts)


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def format_cell(values: Sequence[float], digits: int = 1) -> str:
    mean, std = mean_std(values)
    if mean is None:
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std is not None else f"{mean:.{digits}f}"


def merge_split_notes(notes: set[str]) -> str:
    """The fallback notes, one phrase per (split, problem, fallback) listing its languages, not one per language.

    ``{"test-af was not found; scored on dev", "test-ar was not found; scored on dev"}`` reads
    ``"test was not found for af, ar; scored on dev"``; notes of another shape are kept as they are.
    """
    merged: dict[tuple[str, str, str], list[str]] = {}
    other = []
    for note in sorted(notes):
        match = FALLBACK_NOTE.match(note)
        if match:
            merged.setdefault((match["split"], match["reason"], match["fallback"]), []).append(match["lang"])
            if match["rest"]:
                other.append(match["rest"])
        else:
            other.append(note)
    phrases = [f"{split} {reason} for {', '.join(langs)}; scored on {fallback}"
               for (split, reason, fallback), langs in merged.items()]
    return "; ".join(dict.fromkeys(phrases + other))


def table_rows(groups: Sequence[Group], digits: int = 1) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows and footnotes for one task's groups."""
    languages: list[str] = []
    for group in groups:
        for run in group.runs:
            for lang in run.languages:
                if lang not in languages:
                    languages.append(lang)
    header = ["language"] + [f"{g.label} (n={len(g.runs)})" if len(g.runs) > 1 else g.label for g in groups]
    rows, footnotes = [], []
    for lang in languages:
        marked = any(g.other_split(lang) for g in groups)
        rows.append([lang + (" †" if marked else "")] + [format_cell(g.values(lang), digits) for g in groups])
    sets = [sorted({lang for r in g.runs for lang in r.languages}) for g in groups]
    mixed = len({tuple(languages) for languages in sets}) > 1
    for name in AVERAGE_ROWS:
        rows.append([name] + [format_cell(g.values(name), digits) + (" ‡" if mixed else "") for g in groups])
    if any(g.other_split(lang) for g in groups for lang in languages):
        notes = {n for g in groups for r in g.runs for s in r.languages.values() for n in s.notes}
        footnotes.append("† scored on another split than asked: " + merge_split_notes(notes))
    if mixed:
        footnotes.append("‡ the columns average over different languages, so their averages are not comparable: "
                         + "; ".join(f"{g.label}: {', '.join(langs)}" for g, langs in zip(groups, sets)))
    return header, rows, footnotes


def check_metric(runs: Sequence[Results], metric: str | None) -> None:
    """An unknown metric is an error that lists the ones the runs have."""
    if metric is None:
        return
    known = sorted({m for r in runs for s in r.languages.values() for m in s.metrics})
    if metric not in known:
        raise XlingError(f"no run has a metric {metric!r}; the runs have: {', '.join(known) or 'none'}")


def runs_by_task(runs: Sequence[Results]) -> dict[str, list[Results]]:
    """The runs of each task, in the order the tasks first appear."""
    by_task: dict[str, list[Results]] = {}
    for run in runs:
        by_task.setdefault(run.task["name"], []).append(run)
    return by_task


def render(runs: Sequence[Results], fmt: str = "markdown", digits: int = 1, metric: str | None = None) -> str:
    """Languages x experiments per task; ``metric`` another metric than the primary one (e.g. ``exact_match``)."""
    if not runs:
        raise XlingError("no runs to report")
    check_metric(runs, metric)
    by_task = runs_by_task(runs)
    out = []
    for task, task_runs in by_task.items():
        groups = group_runs(task_runs, metric)
        header, rows, notes = table_rows(groups, digits)
        shown = metric or task_runs[0].primary_metric
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["task", *header])
            for row in rows:
                writer.writerow([task, *row])
            out.append(buffer.getvalue().rstrip("\n"))
            continue
        if fmt != "markdown":
            raise XlingError(f"unknown format {fmt!r}; choose markdown or csv")
        lines = [f"### {task} ({shown}; mean ± std over seeds where n > 1)", "",
                 "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines += [""] + notes if notes else []
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def load_runs(paths: Sequence[str | Path]) -> list[Results]:
    runs = []
    for path in find_results(paths):
        results = Results.load(path)
        results.path = str(path)  # in memory only: names the file when a run is counted twice
        runs.append(results)
    return runs
