"""``xling suite`` (alias ``xling benchmark``): run a suite's available tasks for one model on the local data
folder, then its table.

Every task is an ordinary run (:func:`xling.training.run.run_training`, or
:func:`xling.retrieval.tatoeba.run_retrieval` for Tatoeba) written to
``OUTPUT/<task>/``; the suite table is then built from those results files
only (:mod:`xling.studies.suites`), exactly as ``xling suite --runs OUTPUT`` would.
A task whose ``results.json`` already exists is kept (re-running continues a
benchmark); ``--overwrite`` redoes it. A task that fails is reported as
missing with its error, and the others still run. Budget options
(``--max-train-examples``, ``--epochs``, ``--fusion``, ...) go to every training run.

Per-task defaults for the data folder of this project (``--data-root ../shared/data``;
see its README for what exists and why):

| task | ``--data-dir`` | English training data | selection | scored on |
|---|---|---|---|---|
| xnli | ``xnli`` | SICK, all 9,840 pairs (``--file en:train=sick/SICK.txt.gz``; MultiNLI is not here) | XNLI en dev | test (gold labels from ``test-labels.tsv``) |
| pawsx | ``pawsx`` | PAWS-X en dev minus 500 (``--train-split dev --selection-holdout 500``; PAWS-Wiki train is not here) | the 500 held out | test of **de, zh only**: the only labelled tests; the other languages' dev sets are translations of the training data (so no oracle either) |
| udpos | ``udpos_xtreme`` | ``train-en`` (21,252 sentences) | ``dev-en`` | test (dev where a language has no test) |
| panx | ``wikiann`` | ``rahimi_babelscape/en/train`` (20,000) | en val | test for de en es nl pl ru, dev for the others |
| xcopa | ``xcopa`` | COPA-en train (400; SocialIQa is not here) | COPA-en val (100) | test (500 per language) |
| xquad, mlqa, tydiqa | ``xquad``, ``mlqa``, ``tydiqa_goldp`` | TyDiQA-GoldP en train (3,696) minus 400 (SQuAD is not here) | the 400 held out | test, or dev where there is no test (MLQA, TyDiQA) |
| tatoeba | ``tatoeba`` | none: the raw encoder, ``--retrieval-layer`` (default: last layer), mean pooling | – | all pairs (``--max-sentences`` to subsample) |
| bucc | ``bucc2018`` | none: the raw encoder, margin-based mining (``xling retrieve --task bucc``) | the threshold on half of zh-en dev (seeded, disjoint by sentence) | the other half (no test gold is public) |

Every run evaluates the suite's language list with ``--missing-languages skip``;
the suite table lists the languages that have no data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.errors import XlingError
from xling.reporting.results import RESULTS_FILE
from xling.studies.suites import Suite, SuiteScores, collect_runs, render_suite, score_suite

log = logging.getLogger("xling")

# TrainConfig fields ``xling suite`` passes through to every training run.
PASS_THROUGH = ("fusion", "fusion_layer", "fusion_options", "pooling", "dropout", "freeze_embeddings",
                "max_train_examples", "max_eval_examples", "max_selection_examples", "seed", "epochs", "max_steps",
                "batch_size", "gradient_accumulation", "eval_batch_size", "eval_tokens", "learning_rate", "fusion_learning_rate",
                "head_learning_rate", "weight_decay", "warmup_ratio", "max_seq_length", "mixed_precision",
                "eval_every", "oracle_selection", "max_oracle_examples", "save_model", "save_predictions", "quiet",
                "resume", "overwrite")

TYDIQA_TRAIN = {"en": {"train": "tydiqa_goldp/train/tydiqa.goldp.en.train.json"}}


@dataclass(frozen=True)
class TaskPlan:
    """How one task runs on the data folder: its sub-folder and TrainConfig options (paths relative to the root)."""

    data: str
    options: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    languages: tuple[str, ...] | None = None  # None: the suite's languages
    runner: str = "train"  # train (xling train), retrieve (Tatoeba, no training) or mine (BUCC bitext mining)

    def config_options(self, root: Path) -> dict[str, Any]:
        files = {lang: {split: str(root / path) for split, path in splits.items()} for lang, splits in self.files.items()}
        return {"data_dir": str(root / self.data), **({"files": files} if files else {}), **self.options}


PLANS: dict[str, TaskPlan] = {
    "xnli": TaskPlan("xnli", files={"en": {"train": "sick/SICK.txt.gz"}}),
    # scored on de / zh test (not parallel to dev); their dev sets translate the training rows: no oracle
    "pawsx": TaskPlan("pawsx", {"train_split": "dev", "selection_holdout": 500, "oracle_selection": False},
                      languages=("de", "zh")),
    "udpos": TaskPlan("udpos_xtreme"),
    "panx": TaskPlan("wikiann"),
    "xcopa": TaskPlan("xcopa"),
    "xquad": TaskPlan("xquad", {"selection_holdout": 400}, TYDIQA_TRAIN),
    "mlqa": TaskPlan("mlqa", {"selection_holdout": 400}, TYDIQA_TRAIN),
    "tydiqa": TaskPlan("tydiqa_goldp", {"selection_holdout": 400}, TYDIQA_TRAIN),
    "tatoeba": TaskPlan("tatoeba", runner="retrieve"),
    "bucc": TaskPlan("bucc2018", languages=("zh",), runner="mine"),  # only zh-en is here
}


def run_suite(suite: Suite, model: str, data_root: str | Path, output_dir: str | Path,
                  overrides: dict[str, Any] | None = None, *, tasks: list[str] | None = None,
                  retrieval_layer: int | None = None, max_sentences: int | None = None,
                  qa_score: str = "f1") -> SuiteScores:
    """Run every available task of ``suite`` (or ``tasks``), write ``suite.json`` / ``suite.md``, return the scores."""
    import json

    from xling.tasks import TASKS

    overrides = dict(overrides or {})
    root, out = Path(data_root), Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(tasks or ()) - {t.task for t in suite.tasks if t.task})
    if unknown:
        raise XlingError(f"--tasks {', '.join(unknown)}: not in {suite.name} (its xling tasks: "
                         + ", ".join(t.task for t in suite.tasks if t.task) + ")")
    reasons: dict[str, str] = {}
    for suite_task in suite.tasks:
        name = suite_task.task
        if name is None or (tasks and name not in tasks):
            continue
        if name not in TASKS:
            reasons[name] = "task not registered in xling"
            continue
        if name not in PLANS:
            reasons[name] = "no benchmark plan for this data folder"
            continue
        run_dir = out / name
        if (run_dir / RESULTS_FILE).exists() and not overrides.get("overwrite"):
            log.info("%s: keeping the finished run in %s (--overwrite redoes it)", name, run_dir)
            continue
        plan = PLANS[name]
        languages = list(plan.languages or suite_task.languages)
        log.info("%s: running on %s (%d languages)", name, root / plan.data, len(languages))
        try:
            if plan.runner == "mine":  # bitext mining: margin scores, threshold chosen on dev
                _run_bucc(model, root / plan.data, run_dir, languages, retrieval_layer, overrides)
            elif plan.runner == "retrieve":  # scored without training (Tatoeba)
                _run_retrieval(name, model, root / plan.data, run_dir, languages, retrieval_layer, max_sentences,
                               overrides)
            else:
                _run_training(name, model, plan, root, run_dir, languages, overrides)
        except XlingError as exc:
            reasons[name] = "failed: " + str(exc).splitlines()[0]
            log.error("%s failed: %s", name, exc)
    runs = collect_runs([out]) if any(out.rglob(RESULTS_FILE)) else {}
    scores = score_suite(suite, runs, qa_score, reasons)
    (out / "suite.json").write_text(json.dumps(scores.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "suite.md").write_text(render_suite(scores), encoding="utf-8")
    return scores


def _run_training(name: str, model: str, plan: TaskPlan, root: Path, run_dir: Path, languages: list[str],
                  overrides: dict[str, Any]) -> None:
    from xling.config import TrainConfig
    from xling.training.run import run_training

    options = {**plan.config_options(root), **{k: v for k, v in overrides.items() if k in PASS_THROUGH}}
    cfg = TrainConfig(task=name, model=model, output_dir=str(run_dir), languages=languages,
                      missing_languages="skip", **options)
    run_training(cfg)


def _run_retrieval(name: str, model: str, data_dir: Path, run_dir: Path, languages: list[str], layer: int | None,
                   max_sentences: int | None, overrides: dict[str, Any]) -> None:
    from xling.retrieval.tatoeba import RetrievalConfig, run_retrieval

    cfg = RetrievalConfig(task=name, model=model, layer=layer, data_dir=str(data_dir), languages=languages,
                          missing_languages="skip", max_sentences=max_sentences, output_dir=str(run_dir),
                          overwrite=bool(overrides.get("overwrite")), quiet=bool(overrides.get("quiet")))
    run_retrieval(cfg)


def _run_bucc(model: str, data_dir: Path, run_dir: Path, languages: list[str], layer: int | None,
              overrides: dict[str, Any]) -> None:
    from xling.retrieval.bucc import BuccConfig, run_bucc

    cfg = BuccConfig(model=model, layer=layer, data_dir=str(data_dir), languages=languages, output_dir=str(run_dir),
                     overwrite=bool(overrides.get("overwrite")), quiet=bool(overrides.get("quiet")))
    run_bucc(cfg)
