"""The options every ``xling retrieve`` task shares (kept free of torch, so that the CLI starts fast)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from xling.config import _opt
from xling.errors import ConfigError
from xling.reporting.results import Results, averages, environment, peak_rss_mb, task_summary


@dataclass(frozen=True)
class EmbeddingConfig:
    """What ``xling retrieve`` tasks share: which encoder embeds the sentences, and how (flags and YAML keys).

    Each task's config (:class:`~xling.retrieval.tatoeba.RetrievalConfig`, :class:`~xling.retrieval.bucc.BuccConfig`)
    adds its data and scoring options; ``task`` is redeclared there with the task's own default.
    """

    task: str = _opt("tatoeba", "retrieval task")
    model: str | None = _opt(None, "Hugging Face encoder id or checkpoint directory (raw model)")
    run: str | None = _opt(None, "a run directory of xling train: use its fine-tuned encoder (and fusion)")
    layer: int | None = _opt(None, "embed with this hidden state (0 = embeddings .. L, or negative)")
    fusion: str | None = _opt(None, "embed with this fusion (raw model: last or mean; default: the run's, or last)")
    fusion_layer: int | None = _opt(None, "the fusion's lower layer, where it takes one")
    fusion_options: dict = _opt({}, "extra fusion options", flag="fusion-option", metavar="KEY=VALUE")
    max_seq_length: int = _opt(128, "sub-word limit per sentence")
    batch_size: int = _opt(64, "sentences per batch")
    output_dir: str | None = _opt(None, "write results.json (and predictions/) here")
    overwrite: bool = _opt(False, "replace results in output_dir")
    quiet: bool = _opt(False, "no progress bars")

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_seq_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentence_encoder(self) -> Any:
        """The :class:`~xling.retrieval.embed.SentenceEncoder` these options name (loads torch and the model)."""
        from xling.retrieval.embed import load_sentence_encoder

        return load_sentence_encoder(model=self.model, run=self.run, layer=self.layer, fusion=self.fusion,
                                     fusion_layer=self.fusion_layer, fusion_options=dict(self.fusion_options),
                                     max_length=self.max_seq_length, batch_size=self.batch_size,
                                     progress=not self.quiet)


def embedding_results(task: Any, cfg: EmbeddingConfig, encoder: Any, scores: dict, warnings: list[str],
                      seconds: float, sentences: int, out: Any, seed: int) -> Results:
    """The results of a retrieval run (its encoder, representation, scores and timings), saved in ``out`` if any."""
    rep = encoder.representation
    results = Results(
        task=task_summary(task), model={"name_or_path": encoder.name, **encoder.encoder.describe()},
        fusion={"method": rep.method, "layer": rep.layer, "options": rep.options}, seed=seed,
        config={**cfg.to_dict(), "fusion": rep.method, "fusion_layer": rep.layer, "fusion_options": rep.options},
        languages=scores, averages=averages(scores, task.train_language), environment=environment(),
        timings={"eval_seconds": seconds, "eval_examples": sentences,
                 "eval_examples_per_second": sentences / seconds if seconds else None, "peak_rss_mb": peak_rss_mb()},
        warnings=warnings, run_dir=str(out) if out is not None else "",
    )
    if out is not None:
        results.save(out)
    return results
