"""A sweep directory in reports: one column per config, mean ± std over seeds, and what ``select:`` chose.

``xling report DIR`` on a sweep directory reads the manifest instead of every ``results.json`` below: it
takes the runs that count (every run of a sweep without ``select``; with it, each config's chosen
candidate over the sweep's seeds; the candidates that lost are left out) and gives each the config's
label (``results.config["label"]``, in memory only), which the general report uses as the column name.
The general report's own machinery (averages, mean ± std over seeds, plots, paired gains against
``--baseline LABEL``) then applies unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.sweep.selection import selection_table
from xling.sweep.state import RESULTS, is_sweep_dir, read_manifest, summarize


def sweep_runs(directory: str | Path) -> list[Any]:
    """The finished runs that count, in the sweep file's order, labelled by config."""
    from xling.reporting.results import Results

    directory = Path(directory)
    manifest = read_manifest(directory)
    labels = {run["key"]: run["label"] for run in manifest["runs"]}
    runs = []
    for key in manifest.get("counted", []):
        if (directory / key / RESULTS).is_file():
            results = Results.load(directory / key)
            results.config = {**results.config, "label": labels[key]}
            results.path = str(directory / key / RESULTS)  # in memory only (names a run counted twice)
            runs.append(results)
    if not runs:
        raise XlingError(f"{directory}: no run of the sweep has finished yet ({summarize(directory).line()})")
    return runs


def report_runs(paths: list[str | Path]) -> list[Any]:
    """For ``xling report``: a sweep directory gives the runs its manifest counts, labelled by config; any
    other path is read as :func:`xling.reporting.tables.load_runs` reads it."""
    from xling.reporting.tables import load_runs

    runs: list[Any] = []
    for path in paths:
        runs += sweep_runs(path) if is_sweep_dir(path) else load_runs([path])
    return runs


def selection_tables(paths: list[str | Path]) -> list[str]:
    """For ``xling report``: the selection table of every sweep directory among ``paths`` that selects."""
    tables = []
    for path in paths:
        if is_sweep_dir(path):
            groups = read_manifest(Path(path)).get("groups") or []
            if groups:
                tables.append(selection_table(groups))
    return tables


def sweep_baseline(paths: list[str | Path]) -> str | None:
    """The ``baseline:`` config of the first sweep directory among ``paths`` (a default for ``--baseline``)."""
    for path in paths:
        if is_sweep_dir(path):
            baseline = read_manifest(Path(path)).get("baseline")
            if baseline:
                return str(baseline)
    return None


def render_sweep(directory: str | Path, digits: int = 1) -> str:
    """``DIR/sweep.md``: progress, the results table, the selection table, the failed runs."""
    from xling.reporting.tables import render

    directory = Path(directory)
    manifest = read_manifest(directory)
    summary = summarize(directory)
    parts = [f"## sweep {manifest.get('name')}", "", summary.line(), ""]
    try:
        parts.append(render(sweep_runs(directory), digits=digits))
    except XlingError as exc:
        parts.append(f"({exc})\n")
    if manifest.get("baseline"):
        parts.append(f"Baseline config: {manifest['baseline']} "
                     f"(xling report {directory} --baseline {manifest['baseline']} gives the paired gains).\n")
    parts += selection_tables([directory])
    failed = [s for s in summary.states if s.state == "failed"]
    if failed:
        parts.append("### failed runs\n\n" + "\n".join(f"- {s.key}: {s.detail} (log: {s.log})" for s in failed) + "\n")
    return "\n".join(parts)
