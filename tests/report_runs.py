"""Results objects for report tests: a fusion-layer sweep over seeds, written like ``xling train`` writes them."""

from __future__ import annotations

import random
from pathlib import Path

from xling.reporting.results import LanguageScore, Results, averages

LANGUAGES = ("en", "de", "fr", "zh", "sw")
SWEEP_LAYERS = (2, 4, 6)


def make_run(seed: int, scores: dict[str, float], fusion: str = "last", layer: int | None = None,
             task: str = "panx", run_dir: str = "", warnings: list[str] | None = None,
             notes: dict[str, str] | None = None) -> Results:
    """One run with the fields reports read: config, per-language scores, one training stage, environment."""
    notes = notes or {}
    languages = {lang: LanguageScore("dev" if lang in notes else "test", f"data/panx/test-{lang}.tsv", 40, 50,
                                     {"f1": value}, value, notes=[notes[lang]] if lang in notes else [])
                 for lang, value in scores.items()}
    config = {"task": task, "model": "models/tiny-bert", "fusion": fusion, "fusion_layer": layer, "fusion_options": {},
              "seed": seed, "learning_rate": 1e-3, "output_dir": run_dir}
    stage = {"task": task, "language": "en", "split": "train", "source": "data/panx/train-en.tsv", "examples": 120,
             "total_examples": 120, "steps": 30, "epochs": 2.0,
             "selection": {"split": "dev", "source": "data/panx/dev-en.tsv", "examples": 30, "metric": "span_f1",
                           "best_step": 15 + 15 * (seed % 2), "best_score": scores.get("en", 50.0) - 1.0},
             "history": [{"step": 15, "score": 1.0}, {"step": 30, "score": 2.0}], "averaged_checkpoints": None}
    environment = {"python": "3.11.7", "platform": "Linux", "device": "cpu (2 threads)",
                   "libraries": {"torch": "2.13.0+cpu", "transformers": "5.24.0"}, "xling": "0.1.0",
                   "git_revision": "0123456789abcdef0123456789abcdef01234567"}
    return Results(task={"name": task, "kind": "tagging", "primary_metric": "f1", "metric": "span_f1"},
                   model={"name_or_path": "models/tiny-bert", "type": "bert", "class": "BertModel", "num_layers": 6,
                          "hidden_size": 32, "num_parameters": 67744},
                   fusion={"method": fusion, "layer": layer, "options": {}}, seed=seed, config=config,
                   languages=languages, averages=averages(languages, "en"), stages=[stage], environment=environment,
                   warnings=warnings or [], run_dir=run_dir)


def sweep_scores(fusion: str, layer: int | None, seed: int) -> dict[str, float]:
    """Plausible scores: a per-language level, a per-config shift, seed noise shared by configs (so pairing helps)."""
    shift = {None: 0.0, 2: -3.0, 4: -1.0, 6: 1.5}[layer] if fusion != "scalar_mix" else -0.5
    base = {"en": 80.0, "de": 70.0, "fr": 72.0, "zh": 40.0, "sw": 55.0}
    shared = random.Random(seed)  # the seed's luck, the same for every config
    own = random.Random(f"{fusion}{layer}{seed}")
    return {lang: round(base[lang] + shift + shared.gauss(0, 2.0) + own.gauss(0, 0.4), 2) for lang in LANGUAGES}


def sweep_runs(seeds: tuple[int, ...] = (1, 2, 3)) -> list[Results]:
    """``last`` and AIF at layers 2, 4, 6 over ``seeds``; scalar_mix at seeds 7 and 8 (no seed in common)."""
    runs = [make_run(s, sweep_scores("last", None, s), run_dir=f"runs/last-s{s}") for s in seeds]
    runs += [make_run(s, sweep_scores("aif", layer, s), "aif", layer, run_dir=f"runs/aif{layer}-s{s}")
             for layer in SWEEP_LAYERS for s in seeds]
    runs += [make_run(s, sweep_scores("scalar_mix", None, s), "scalar_mix", run_dir=f"runs/mix-s{s}") for s in (7, 8)]
    return runs


def save_runs(runs: list[Results], root: Path) -> Path:
    """Each run in its own directory under ``root``, as results.json."""
    for i, run in enumerate(runs):
        directory = root / f"{i:02d}-{Path(run.run_dir).name or 'run'}"
        directory.mkdir(parents=True)
        run.save(directory)
    return root
