"""What each layer knows: per-layer cross-lingual alignment of an encoder, measured on Tatoeba.

For every hidden state (0 = embeddings .. L) and language, on the same
mean-pooled sentence vectors:

- **retrieval accuracy** en -> xx and xx -> en (cosine nearest neighbour, as :mod:`xling.retrieval.tatoeba`);
- **cosine** of parallel pairs (a sentence and its translation: the diagonal of
  the similarity matrix) against non-parallel pairs (every off-diagonal pair), and their gap;
- **linear CKA** (Kornblith et al. 2019) between the language's and the English
  representations of the same sentences.

This is the evidence behind "lower layers are more cross-lingual". The
suggested fusion layer is a **heuristic**: per task, the layer in 1..L-1 (the
range ``--fusion-layer`` accepts) with the highest mean retrieval accuracy
(both directions) over the task's languages that were analysed (all analysed
languages when none overlap). Sentences whose translations are nearest are
represented most language-neutrally there, which is what fusing a lower layer is
meant to add; it says nothing directly about downstream accuracy, so confirm it
with a few ``--fusion-layer`` runs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xling.retrieval.tatoeba import Bitext, cosine_matrix, retrieval_metrics

log = logging.getLogger("xling")

SCHEMA = "xling.layers/1"
HEURISTIC = ("heuristic: the layer in 1..L-1 with the highest mean Tatoeba retrieval accuracy (mean of both "
             "directions) over the task's analysed languages; not a measurement of downstream accuracy")


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between (n, d1) and (n, d2) representations of the same n examples.

    CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on column-centred X, Y
    (Kornblith et al. 2019, eq. for the linear kernel); invariant to orthogonal
    transforms and isotropic scaling, 1 for identical representations.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs (n, d) arrays with the same n, got {x.shape} and {y.shape}")
    x = x - x.mean(axis=0, keepdims=True)
    y = y - y.mean(axis=0, keepdims=True)
    denominator = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    if denominator == 0:
        raise ValueError("CKA is undefined for a constant representation")
    return float(np.linalg.norm(y.T @ x) ** 2 / denominator)


def parallel_cosines(similarity: np.ndarray) -> tuple[float, float]:
    """Mean cosine of the diagonal (parallel pairs) and of every off-diagonal entry (non-parallel pairs)."""
    n = similarity.shape[0]
    diagonal = float(np.trace(similarity)) / n
    off = (float(similarity.sum()) - diagonal * n) / (n * n - n) if n > 1 else float("nan")
    return diagonal, off


@dataclass
class LayerAnalysis:
    """Per-layer measures, each ``{lang: [value per hidden state 0..L]}``; see :data:`SCHEMA`."""

    model: str
    num_layers: int
    examples: dict[str, int]
    retrieval_en_to_xx: dict[str, list[float]] = field(default_factory=dict)
    retrieval_xx_to_en: dict[str, list[float]] = field(default_factory=dict)
    cosine_parallel: dict[str, list[float]] = field(default_factory=dict)
    cosine_non_parallel: dict[str, list[float]] = field(default_factory=dict)
    cka: dict[str, list[float]] = field(default_factory=dict)
    suggested_fusion_layer: dict[str, Any] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return list(self.examples)

    def retrieval(self, lang: str) -> list[float]:
        """Mean of both directions per layer."""
        return [(a + b) / 2 for a, b in zip(self.retrieval_en_to_xx[lang], self.retrieval_xx_to_en[lang])]

    def cosine_gap(self, lang: str) -> list[float]:
        return [p - q for p, q in zip(self.cosine_parallel[lang], self.cosine_non_parallel[lang])]

    def mean(self, measure: str, languages: list[str] | None = None) -> list[float]:
        """Per-layer mean over languages of ``retrieval``, ``cosine_gap`` or a stored measure."""
        langs = languages or self.languages
        curves = [getattr(self, measure)(lang) if measure in ("retrieval", "cosine_gap") else getattr(self, measure)[lang]
                  for lang in langs]
        return [float(v) for v in np.mean(np.asarray(curves), axis=0)]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["means"] = {m: self.mean(m) for m in ("retrieval", "retrieval_en_to_xx", "retrieval_xx_to_en",
                                                   "cosine_parallel", "cosine_non_parallel", "cosine_gap", "cka")}
        return {"schema": SCHEMA, "layers": list(range(self.num_layers + 1)), **data}


def analyze_layers(encoder, bitexts: dict[str, Bitext]) -> LayerAnalysis:
    """Embed every bitext at every layer once and measure (``encoder``: :class:`xling.retrieval.embed.SentenceEncoder`)."""
    analysis = LayerAnalysis(encoder.name, encoder.num_layers, {lang: len(b) for lang, b in bitexts.items()})
    for lang, bitext in bitexts.items():
        xx = encoder.embed_layers(bitext.sentences, f"embed {lang}")
        en = encoder.embed_layers(bitext.english, f"embed {lang}-en")
        measures: dict[str, list[float]] = {k: [] for k in ("fwd", "bwd", "par", "non", "cka")}
        for layer in range(encoder.num_layers + 1):
            similarity = cosine_matrix(xx[layer], en[layer])
            metrics = retrieval_metrics(similarity)
            parallel, non_parallel = parallel_cosines(similarity)
            measures["fwd"].append(metrics["accuracy"])
            measures["bwd"].append(metrics["accuracy_xx_to_en"])
            measures["par"].append(parallel)
            measures["non"].append(non_parallel)
            measures["cka"].append(linear_cka(xx[layer], en[layer]))
        analysis.retrieval_en_to_xx[lang], analysis.retrieval_xx_to_en[lang] = measures["fwd"], measures["bwd"]
        analysis.cosine_parallel[lang], analysis.cosine_non_parallel[lang] = measures["par"], measures["non"]
        analysis.cka[lang] = measures["cka"]
        best = int(np.argmax(analysis.retrieval(lang)))
        log.info("%s: best retrieval at layer %d (%.1f), CKA there %.3f", lang, best, analysis.retrieval(lang)[best],
                 measures["cka"][best])
    analysis.suggested_fusion_layer = suggest_fusion_layers(analysis)
    return analysis


def best_fusion_layer(curve: list[float]) -> int:
    """Arg-max over layers 1..L-1 (the first on ties): the range a fusion layer may take."""
    inner = curve[1:-1]
    if not inner:
        raise ValueError("a model needs at least 2 layers for a fusion layer")
    return 1 + int(np.argmax(inner))


def suggest_fusion_layers(analysis: LayerAnalysis) -> dict[str, Any]:
    """The heuristic fusion layer overall and per registered (trainable) task; see the module docstring."""
    from xling.kinds import get_kind
    from xling.tasks import TASKS

    if analysis.num_layers < 2:
        return {"heuristic": HEURISTIC, "all": None, "tasks": {}, "note": "fewer than 2 layers: no fusion layer"}
    overall = analysis.mean("retrieval")
    suggestion: dict[str, Any] = {"heuristic": HEURISTIC, "all": {"layer": best_fusion_layer(overall),
                                                                  "languages": analysis.languages}, "tasks": {}}
    for name in TASKS.names():
        task = TASKS.get(name)
        if not get_kind(task.kind).trainable or not set(task.languages) - {task.train_language}:
            continue  # nothing to transfer to (English-only tasks)
        langs = [lang for lang in analysis.languages if lang in task.languages and lang != task.train_language]
        curve = analysis.mean("retrieval", langs) if langs else overall
        layer = best_fusion_layer(curve)
        suggestion["tasks"][name] = {"layer": layer, "languages": langs or "all analysed (none of the task's)",
                                     "mean_retrieval_at_layer": curve[layer]}
    return suggestion


PLOTS = {
    "retrieval": ("Tatoeba retrieval accuracy (mean of en->xx, xx->en)", "accuracy (%)"),
    "cosine_gap": ("cosine: parallel minus non-parallel pairs", "cosine gap"),
    "cka": ("linear CKA with the English representations", "CKA"),
}


def save_analysis(analysis: LayerAnalysis, directory: str | Path) -> dict[str, Path]:
    """``layers.json`` and one PNG per measure (layer on x, a line per language, the mean in bold)."""
    from xling.extras import pyplot

    plt = pyplot("layer-analysis plots")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {"json": directory / "layers.json"}
    written["json"].write_text(json.dumps(analysis.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    layers = list(range(analysis.num_layers + 1))
    n = len(analysis.languages)
    colours = plt.get_cmap("tab20" if n <= 20 else "gist_rainbow")
    for measure, (title, ylabel) in PLOTS.items():
        fig, ax = plt.subplots(figsize=(8, 5))
        for i, lang in enumerate(analysis.languages):
            values = getattr(analysis, measure)(lang) if measure != "cka" else analysis.cka[lang]
            colour = colours(i) if n <= 20 else colours(i / max(1, n - 1))
            ax.plot(layers, values, linewidth=0.8, alpha=0.6, label=lang, color=colour)
        ax.plot(layers, analysis.mean(measure), color="black", linewidth=3, label="mean")
        if measure == "retrieval" and (analysis.suggested_fusion_layer or {}).get("all"):
            ax.axvline(analysis.suggested_fusion_layer["all"]["layer"], color="grey", linestyle="--", linewidth=1,
                       label="suggested fusion layer (heuristic)")
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel(ylabel)
        ax.set_xticks(layers)
        ax.set_title(f"{title}\n{Path(analysis.model).name}", fontsize="medium")
        ax.legend(fontsize="x-small", ncol=max(1, len(analysis.languages) // 12 + 1), loc="center left",
                  bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        written[measure] = directory / f"layers_{measure}.png"
        fig.savefig(written[measure], dpi=120)
        plt.close(fig)
    return written
