"""Benchmark suites (XTREME, XTREME-R): which tasks form each category, and the suite table from results files.

Aggregation (as the issue defines it, following the papers' category tables):
a task's score is the mean over its suite languages of the primary score
(mean over seeds first); a category's score is the mean of its tasks' scores;
the suite score is the mean of the category scores. Tasks xling cannot run
(Mewsli-X, LAReQA) or that have no results are listed as missing and
every average over fewer tasks or languages than the suite defines is labelled
partial. Also shown: the plain mean over available tasks, which is what
google-research/xtreme ``evaluate.py`` reports as ``all_task``; that script
scores QA tasks by the mean of EM and F1 (``qa_score='em_f1_mean'`` here),
the papers' tables by F1 (the default).

Language sets follow google-research/xtreme: ``evaluate.py`` ``TASK2LANGS``
for XTREME; for XTREME-R the scripts ``train_udpos.sh`` (+ lt pl ro uk),
``train_panx.sh`` (+ az gu lt pa pl qu ro uk), ``run_tatoeba.sh`` (+ az lt pl
ro uk), ``train_xcopa.sh`` (11 XCOPA languages) and the Mewsli-X / LAReQA mock
labels. Check them against the papers (arXiv 2003.11080, 2104.07412) before publishing.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.errors import ConfigError
from xling.registry import Registry
from xling.reporting.results import Results

CLASSIFICATION, STRUCTURED, QA, RETRIEVAL = "classification", "structured prediction", "question answering", "retrieval"
CATEGORIES = (CLASSIFICATION, STRUCTURED, QA, RETRIEVAL)
QA_SCORES = ("f1", "em_f1_mean")


def _langs(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class SuiteTask:
    """One task of a suite: its name in the paper, the xling task (None: not implemented), category, languages."""

    label: str
    task: str | None
    category: str
    languages: tuple[str, ...]
    metric: str


@dataclass(frozen=True)
class Suite:
    name: str
    reference: str
    tasks: tuple[SuiteTask, ...]

    def categories(self) -> list[str]:
        return [c for c in CATEGORIES if any(t.category == c for t in self.tasks)]


SUITES: Registry[Suite] = Registry("benchmark suite")

XNLI_L = _langs("ar bg de el en es fr hi ru sw th tr ur vi zh")
PAWSX_L = _langs("de en es fr ja ko zh")
PANX_L = _langs("ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw yo my "
                "zh kk tr et fi hu")
UDPOS_L = _langs("af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi yo zh")
TATOEBA_L = _langs("ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw zh kk tr "
                   "et fi hu")
XQUAD_L = _langs("en es de el ru tr ar vi th zh hi")
MLQA_L = _langs("en es de ar hi vi zh")
TYDIQA_L = _langs("en ar bn fi id ko ru sw te")
QA_TASKS = (SuiteTask("XQuAD", "xquad", QA, XQUAD_L, "F1"), SuiteTask("MLQA", "mlqa", QA, MLQA_L, "F1"),
            SuiteTask("TyDiQA-GoldP", "tydiqa", QA, TYDIQA_L, "F1"))

XTREME = SUITES.register("xtreme", Suite("xtreme", "Hu et al. 2020, arXiv 2003.11080", (
    SuiteTask("XNLI", "xnli", CLASSIFICATION, XNLI_L, "accuracy"),
    SuiteTask("PAWS-X", "pawsx", CLASSIFICATION, PAWSX_L, "accuracy"),
    SuiteTask("POS", "udpos", STRUCTURED, UDPOS_L, "F1"),
    SuiteTask("NER", "panx", STRUCTURED, PANX_L, "F1"),
    *QA_TASKS,
    SuiteTask("BUCC", "bucc", RETRIEVAL, _langs("de fr ru zh"), "F1"),
    SuiteTask("Tatoeba", "tatoeba", RETRIEVAL, TATOEBA_L, "accuracy"),
)))

XTREME_R = SUITES.register("xtreme-r", Suite("xtreme-r", "Ruder et al. 2021, arXiv 2104.07412", (
    SuiteTask("XNLI", "xnli", CLASSIFICATION, XNLI_L, "accuracy"),
    SuiteTask("XCOPA", "xcopa", CLASSIFICATION, _langs("et ht id it qu sw ta th tr vi zh"), "accuracy"),
    SuiteTask("UD-POS", "udpos", STRUCTURED, UDPOS_L + _langs("lt pl uk ro"), "F1"),
    SuiteTask("WikiANN-NER", "panx", STRUCTURED, PANX_L + _langs("qu pl uk az lt pa gu ro"), "F1"),
    *QA_TASKS,
    SuiteTask("Mewsli-X", None, RETRIEVAL, _langs("ar de en es fa ja pl ro ta tr uk"), "mAP@20"),
    SuiteTask("LAReQA", None, RETRIEVAL, XQUAD_L, "mAP@20"),
    SuiteTask("Tatoeba", "tatoeba", RETRIEVAL, TATOEBA_L + _langs("az lt pl uk ro"), "accuracy"),
)))


def get_suite(name: str) -> Suite:
    return SUITES.get(name)


# ---------------------------------------------------------------- scoring


@dataclass
class TaskScore:
    """A suite task's score, over which languages, from how many runs; ``reason`` when it has none."""

    label: str
    task: str | None
    category: str
    metric: str
    score: float | None
    languages: list[str] = field(default_factory=list)
    missing_languages: list[str] = field(default_factory=list)
    runs: int = 0
    reason: str | None = None


def language_value(run: Results, lang: str, qa_score: str = "f1") -> float:
    entry = run.languages[lang]
    if qa_score == "em_f1_mean" and {"exact_match", "f1"} <= set(entry.metrics):
        return (entry.metrics["exact_match"] + entry.metrics["f1"]) / 2
    return entry.primary


def score_task(suite_task: SuiteTask, runs: Sequence[Results], qa_score: str = "f1",
               reason: str | None = None) -> TaskScore:
    """Mean over the suite's languages present in the runs (per language: mean over runs)."""
    base = TaskScore(suite_task.label, suite_task.task, suite_task.category, suite_task.metric, None, runs=len(runs))
    if suite_task.task is None:
        base.reason = reason or "not implemented in xling"
        return base
    present = [lang for lang in suite_task.languages if any(lang in r.languages for r in runs)]
    base.missing_languages = [lang for lang in suite_task.languages if lang not in present]
    if not present:
        base.reason = reason or ("no results" if not runs else "no results in the suite's languages")
        return base
    per_language = [statistics.fmean(language_value(r, lang, qa_score) for r in runs if lang in r.languages)
                    for lang in present]
    base.score, base.languages = statistics.fmean(per_language), present
    return base


@dataclass
class SuiteScores:
    suite: Suite
    tasks: list[TaskScore]
    categories: dict[str, float | None]
    score: float | None
    task_mean: float | None
    qa_score: str = "f1"

    @property
    def missing(self) -> list[TaskScore]:
        return [t for t in self.tasks if t.score is None]

    @property
    def complete(self) -> bool:
        return not self.missing and not any(t.missing_languages for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.suite.name, "reference": self.suite.reference, "score": self.score,
                "categories": self.categories, "task_mean": self.task_mean, "complete": self.complete,
                "qa_score": self.qa_score, "tasks": [vars(t) for t in self.tasks],
                "missing_tasks": {t.label: t.reason for t in self.missing}}


def score_suite(suite: Suite, runs_by_task: dict[str, Sequence[Results]], qa_score: str = "f1",
                reasons: dict[str, str] | None = None) -> SuiteScores:
    """Task, category and suite scores from results grouped by xling task name."""
    if qa_score not in QA_SCORES:
        raise ConfigError(f"qa_score must be one of {', '.join(QA_SCORES)}, not {qa_score!r}")
    reasons = reasons or {}
    tasks = [score_task(t, runs_by_task.get(t.task or "", ()), qa_score, reasons.get(t.task or "")) for t in suite.tasks]
    categories: dict[str, float | None] = {}
    for category in suite.categories():
        values = [t.score for t in tasks if t.category == category and t.score is not None]
        categories[category] = statistics.fmean(values) if values else None
    available = [v for v in categories.values() if v is not None]
    task_values = [t.score for t in tasks if t.score is not None]
    return SuiteScores(suite, tasks, categories, statistics.fmean(available) if available else None,
                       statistics.fmean(task_values) if task_values else None, qa_score)


def collect_runs(paths: Sequence[str | Path]) -> dict[str, list[Results]]:
    """Results files below ``paths``, by task; several configurations of one task are an error (seeds are fine)."""
    from xling.reporting.tables import group_runs, load_runs

    by_task: dict[str, list[Results]] = {}
    for run in load_runs(paths):
        by_task.setdefault(run.task["name"], []).append(run)
    for task, runs in by_task.items():
        groups = group_runs(runs)
        if len(groups) > 1:
            raise ConfigError(f"{task}: runs of {len(groups)} different configurations ("
                              + "; ".join(g.label or "?" for g in groups) + "); a suite table needs one per task: "
                              "point --runs at one configuration's run directories")
    return by_task


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render_suite(scores: SuiteScores, digits: int = 1) -> str:
    """The suite table (markdown) with category averages, the suite score and what is missing."""
    suite, total = scores.suite, len(scores.suite.tasks)
    status = "complete" if scores.complete else f"partial: {len(scores.missing)} of {total} tasks missing"
    lines = [f"### {suite.name.upper()} ({suite.reference}; {status})", "",
             "| category | task | metric | languages | score |", "|---|---|---|---|---|"]
    for category in suite.categories():
        members = [t for t in scores.tasks if t.category == category]
        for t in members:
            langs = f"{len(t.languages)}/{len(t.languages) + len(t.missing_languages)}" if t.task else "–"
            cell = _fmt(t.score, digits) if t.score is not None else f"missing: {t.reason}"
            lines.append(f"| {category} | {t.label} | {t.metric} | {langs} | {cell} |")
        have = sum(t.score is not None for t in members)
        partial = "" if have == len(members) and not any(t.missing_languages for t in members) else \
            f" (partial: {have}/{len(members)} tasks)" if have < len(members) else " (partial: languages missing)"
        lines.append(f"| {category} | **average{partial}** | | | **{_fmt(scores.categories[category], digits)}** |")
    scored = sum(v is not None for v in scores.categories.values())
    label = "" if scores.complete else (f"; partial: {scored}/{len(scores.categories)} categories, "
                                        f"{total - len(scores.missing)}/{total} tasks")
    lines += ["", f"**{suite.name.upper()} score** (mean of category averages{label}): **{_fmt(scores.score, digits)}**",
              f"Mean over available tasks (google-research/xtreme evaluate.py's all_task): {_fmt(scores.task_mean, digits)}"
              + (" (QA scored as mean of EM and F1)" if scores.qa_score == "em_f1_mean" else " (QA scored by F1)")]
    if scores.missing:
        lines.append("Missing tasks: " + "; ".join(f"{t.label} ({t.reason})" for t in scores.missing))
    gaps = [f"{t.label}: {' '.join(t.missing_languages)}" for t in scores.tasks if t.score is not None and t.missing_languages]
    if gaps:
        lines.append("Missing languages (averages cover the rest): " + "; ".join(gaps))
    return "\n".join(lines) + "\n"
