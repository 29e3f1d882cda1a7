"""Figures for reports, rendered to PNG bytes (the HTML page inlines them as data: URIs).

- :func:`heatmap_png`: languages x columns, the mean score, or the paired gain over a baseline;
- :func:`find_sweeps` and :func:`layer_plot_png`: where columns differ only by ``fusion_layer``, the score
  against the layer, with ``last`` as a reference line.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from xling.reporting.tables import AVERAGE_ROWS, Group, evaluation_key, experiment_key, mean_std
from xling.reporting.gains import Comparison

DPI = 100
LAYER_KEYS = ("fusion_layer",)
FUSION_KEYS = ("fusion", "fusion_layer", "fusion_options")


def _pyplot() -> Any:
    from xling.extras import pyplot

    return pyplot("the HTML report's figures")


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    _pyplot().close(fig)
    return buffer.getvalue()


def heatmap_png(groups: Sequence[Group], rows: Sequence[str], metric: str,
                comparisons: Sequence[Comparison] | None = None, digits: int = 1) -> bytes:
    """Rows x columns coloured by mean score, or by mean paired gain when ``comparisons`` are given.

    Gains use a diverging map centred on zero (unpaired columns are left blank); cells carry their value.
    """
    import numpy as np

    plt = _pyplot()
    if comparisons is not None:
        columns = [c.label for c in comparisons]
        values = np.array([[c.gains[r].mean if c.paired and c.gains[r].mean is not None else np.nan
                            for c in comparisons] for r in rows], dtype=float)
        bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
        cmap, vmin, vmax = "RdBu", -max(bound, 1e-9), max(bound, 1e-9)
        title = f"gain over {comparisons[0].baseline} ({metric} points)" if comparisons else "gains"
    else:
        columns = [g.label for g in groups]
        values = np.array([[_mean(g.values(r)) for g in groups] for r in rows], dtype=float)
        finite = values[np.isfinite(values)]
        cmap = "YlGnBu"
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        title = f"{metric} (mean over seeds)"
    width = min(15.0, 2.2 + 0.95 * len(columns))
    fig, ax = plt.subplots(figsize=(width, 1.4 + 0.26 * len(rows)))
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    colormap = image.get_cmap()
    for (i, j), value in np.ndenumerate(values):
        if not np.isfinite(value):
            continue
        red, green, blue, _ = colormap(image.norm(value))
        dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
        text = f"{value:+.{digits}f}" if comparisons is not None else f"{value:.{digits}f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
    averages = [i for i, r in enumerate(rows) if r in AVERAGE_ROWS]
    if averages and averages[0] > 0:
        ax.axhline(averages[0] - 0.5, color="black", linewidth=1.2)
    ax.set_xticks(range(len(columns)), columns, fontsize=8)
    ax.tick_params(top=True, labeltop=len(rows) > 12)  # a tall map names its columns above and below
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
    plt.setp([t.label2 for t in ax.xaxis.get_major_ticks()], rotation=30, ha="left", rotation_mode="anchor")
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    fig.tight_layout()
    return _png(fig)


def _mean(values: Sequence[float]) -> float:
    mean, _ = mean_std(values)
    return float("nan") if mean is None else mean


@dataclass
class Sweep:
    """Columns that differ only by the fusion layer, and the ``last`` columns they are compared with."""

    name: str
    points: list[tuple[int, Group]]  # (layer as a hidden-state index, column), by layer
    references: list[Group] = field(default_factory=list)


def _config(group: Group, drop: Sequence[str]) -> tuple:
    """The column's config without ``drop``, and its evaluation data (a family is scored on one data set)."""
    run = group.runs[0]
    return tuple((k, v) for k, v in experiment_key(run) if k not in drop) + (("evaluation", evaluation_key(run)),)


def _layer(group: Group) -> int | None:
    run = group.runs[0]
    layer = run.config.get("fusion_layer")
    if not isinstance(layer, int) or isinstance(layer, bool):
        return None
    layers = run.model.get("num_layers")
    return layer + layers + 1 if layer < 0 and isinstance(layers, int) else layer  # as fusion.resolve_layer


def find_sweeps(groups: Sequence[Group]) -> list[Sweep]:
    """Families of columns at two or more fusion layers (all else equal), each with its ``last`` references."""
    families: dict[tuple, list[tuple[int, Group]]] = {}
    for group in groups:
        layer = _layer(group)
        if layer is not None:
            families.setdefault(_config(group, LAYER_KEYS), []).append((layer, group))
    sweeps = []
    for points in families.values():
        if len({layer for layer, _ in points}) < 2:
            continue
        rest = _config(points[0][1], FUSION_KEYS)
        references = [g for g in groups if g.runs[0].config.get("fusion") == "last" and _config(g, FUSION_KEYS) == rest]
        name = re.sub(r"@-?\d+", "", points[0][1].label)
        sweeps.append(Sweep(name, sorted(points, key=lambda p: p[0]), references))
    return sweeps


def layer_plot_png(sweeps: Sequence[Sweep], metric: str, task: str) -> bytes:
    """The zero-shot average (mean ± std over seeds) against the fusion layer; ``last`` as a horizontal band."""
    plt = _pyplot()
    row = "avg zero-shot" if any(g.values("avg zero-shot") for s in sweeps for _, g in s.points) else "avg"
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    layers: set[int] = set()
    for sweep in sweeps:
        xs, means, stds = [], [], []
        for layer, group in sweep.points:
            mean, std = mean_std(group.values(row))
            if mean is not None:
                xs.append(layer)
                means.append(mean)
                stds.append(std or 0.0)
        layers.update(xs)
        ax.errorbar(xs, means, yerr=stds, marker="o", markersize=5, capsize=3, linewidth=1.5, label=sweep.name)
    seen: set[int] = set()
    for sweep in sweeps:
        for reference in sweep.references:
            if id(reference) in seen:
                continue
            seen.add(id(reference))
            mean, std = mean_std(reference.values(row))
            if mean is None:
                continue
            line = ax.axhline(mean, linestyle="--", linewidth=1.2, color="0.3",
                              label=f"{reference.label} (n={len(reference.runs)})")
            if std:
                ax.axhspan(mean - std, mean + std, color=line.get_color(), alpha=0.12, linewidth=0)
    ax.set_xticks(sorted(layers))
    ax.set_xlabel("fusion layer (hidden state; 0 = embeddings)")
    ax.set_ylabel(f"{metric}, {row} (mean ± std over seeds)")
    ax.set_title(task)
    ax.grid(color="0.9")
    ax.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    return _png(fig)
