"""Plots built from results files: per-language scores of every experiment, mean and std over seeds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xling.reporting.results import Results
from xling.reporting.tables import AVERAGE_ROWS, check_metric, group_runs, mean_std, table_rows


def plot_languages(runs: Sequence[Results], path: str | Path, metric: str | None = None) -> Path:
    """One column per language (and the zero-shot average), one marker per experiment: mean, std as error bar.

    Markers rather than bars, so the axis can span only the scores (differences of a point or two stay
    visible) without the truncated-bar distortion; the legend sits below the axes, where long labels fit.
    """
    import numpy as np

    from xling.extras import pyplot

    plt = pyplot("xling report --plot")

    check_metric(runs, metric)
    groups = group_runs(runs, metric)
    header, rows, _ = table_rows(groups)
    languages = [row[0].rstrip(" †") for row in rows if row[0] not in AVERAGE_ROWS] + ["avg zero-shot"]
    spread = 0.7 / max(1, len(groups))
    width = min(16.0, max(6.0, 0.45 * len(languages) + 0.1 * len(groups) * len(languages) ** 0.5))
    fig, ax = plt.subplots(figsize=(width, 4.0 + 0.22 * len(groups)))  # taller for the legend's rows
    x = np.arange(len(languages))
    markers = "os^Dv<>ph*"
    for i, group in enumerate(groups):
        stats = [mean_std(group.values(lang)) for lang in languages]
        means = [m if m is not None else np.nan for m, _ in stats]
        errors = [s or 0.0 for _, s in stats]
        ax.errorbar(x + (i - (len(groups) - 1) / 2) * spread, means, yerr=errors, fmt=markers[i % len(markers)],
                    markersize=4, capsize=2, linewidth=1, label=group.label)
    for boundary in x[:-1] + 0.5:
        ax.axvline(boundary, color="0.9", linewidth=0.8, zorder=0)
    ax.set_xticks(x, languages, rotation=45, ha="right")
    ax.set_xlim(-0.5, len(languages) - 0.5)
    ax.set_ylabel(metric or runs[0].primary_metric)
    ax.set_title(runs[0].task["name"])
    ax.grid(axis="y", color="0.9")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1 if len(groups) > 4 else 2,
              frameon=False)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
