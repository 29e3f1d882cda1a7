"""Paired gains of every column over a baseline column, with 95 % confidence intervals.

Two columns are compared seed by seed: the gain for seed ``s`` is the column's score minus the baseline's
score of the run with the same seed, so the seed's shared luck (data order, head initialisation) cancels.
With three or more paired seeds the interval is a t-interval over the paired gains; with fewer, the average
rows get a percentile bootstrap over languages (the per-language mean gains resampled with replacement), and
the language rows get none. Columns that share no seed with the baseline are reported as unpaired, never
paired by position.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from xling.errors import XlingError
from xling.reporting.tables import AVERAGE_ROWS, Group
from xling.reporting.results import Results

MIN_T_SEEDS = 3  # fewer paired seeds than this: bootstrap over languages for the average rows
RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Gain:
    """One row's gain over the baseline: the per-seed differences and their summary."""

    diffs: tuple[float, ...]
    mean: float | None
    std: float | None
    ci: tuple[float, float] | None
    method: str | None  # "t" (over paired seeds), "bootstrap" (over languages) or None (no interval)

    @property
    def significant(self) -> bool:
        """The 95 % interval excludes zero."""
        return self.ci is not None and (self.ci[0] > 0 or self.ci[1] < 0)


@dataclass
class Comparison:
    """One column against the baseline column of the same task."""

    label: str
    baseline: str
    seeds: list[int]  # paired seeds
    only_column: list[int]  # seeds the column has and the baseline lacks (not used)
    only_baseline: list[int]
    gains: dict[str, Gain] = field(default_factory=dict)  # row (language or average row) -> gain
    bootstrap_languages: dict[str, int] = field(default_factory=dict)  # average row -> languages resampled

    @property
    def paired(self) -> bool:
        return bool(self.seeds)

    def describe(self) -> str:
        """One sentence: how many seeds were paired and which interval each row got."""
        if not self.paired:
            return (f"{self.label}: unpaired, no seed in common with {self.baseline} (seeds "
                    f"{_seeds(self.only_column)} against {_seeds(self.only_baseline)}); not compared")
        text = f"{self.label}: {len(self.seeds)} paired seed{'s' if len(self.seeds) > 1 else ''} ({_seeds(self.seeds)})"
        if self.only_column or self.only_baseline:
            text += f", unmatched seeds left out ({_seeds(self.only_column + self.only_baseline)})"
        if len(self.seeds) >= MIN_T_SEEDS:
            return text + "; 95 % CI: t-interval over the paired seeds"
        sizes = ", ".join(f"{row} over {n} languages" for row, n in self.bootstrap_languages.items())
        return (text + f"; 95 % CI: fewer than {MIN_T_SEEDS} paired seeds, so the average rows get a bootstrap "
                f"over languages ({sizes}; {RESAMPLES:,} resamples, seed {BOOTSTRAP_SEED}) and the language "
                "rows none")


def _seeds(seeds: Sequence[int]) -> str:
    return ", ".join(str(s) for s in seeds) or "none"


def find_baseline(groups: Sequence[Group], label: str) -> Group:
    """The group labelled ``label``; an error lists the labels there are."""
    for group in groups:
        if group.label == label:
            return group
    known = ", ".join(repr(g.label) for g in groups)
    task = groups[0].task if groups else "?"
    raise XlingError(f"no column labelled {label!r} to use as baseline in task {task}; the columns are: {known}")


def _by_seed(group: Group) -> dict[int, Results]:
    runs: dict[int, Results] = {}
    for run in group.runs:
        if run.seed in runs:
            raise XlingError(f"column {group.label!r} has two runs with seed {run.seed} ({runs[run.seed].run_dir} "
                             f"and {run.run_dir}): pairing by seed is ambiguous; report one of them")
        runs[run.seed] = run
    return runs


def _value(group: Group, run: Results, row: str) -> float | None:
    """One run's score for a row, read exactly as the table reads it."""
    values = Group(group.label, group.task, [run], group.metric).values(row)
    return values[0] if values else None


def table_languages(groups: Sequence[Group]) -> list[str]:
    """Languages in the order the table lists them."""
    languages: list[str] = []
    for group in groups:
        for run in group.runs:
            languages += [lang for lang in run.languages if lang not in languages]
    return languages


def compare(groups: Sequence[Group], baseline: str, *, resamples: int = RESAMPLES,
            seed: int = BOOTSTRAP_SEED) -> list[Comparison]:
    """Every column other than ``baseline`` against it, row by row (languages, then the averages)."""
    base = find_baseline(groups, baseline)
    base_runs = _by_seed(base)
    rows = table_languages(groups) + list(AVERAGE_ROWS)
    out = []
    for group in groups:
        if group is base:
            continue
        runs = _by_seed(group)
        paired = sorted(set(runs) & set(base_runs))
        comparison = Comparison(group.label, base.label, paired, sorted(set(runs) - set(base_runs)),
                                sorted(set(base_runs) - set(runs)))
        if paired:
            diffs = {row: _diffs(group, base, runs, base_runs, paired, row) for row in rows}
            for row in rows:
                comparison.gains[row] = _summarise(diffs[row])
            if len(paired) < MIN_T_SEEDS:
                _bootstrap_averages(comparison, diffs, group, base_runs, paired, resamples, seed)
        out.append(comparison)
    return out


def _diffs(group: Group, base: Group, runs: dict[int, Results], base_runs: dict[int, Results],
           seeds: list[int], row: str) -> dict[int, float]:
    """Per paired seed where both runs have the row: column minus baseline."""
    out = {}
    for s in seeds:
        mine, theirs = _value(group, runs[s], row), _value(base, base_runs[s], row)
        if mine is not None and theirs is not None:
            out[s] = mine - theirs
    return out


def _summarise(diffs: dict[int, float]) -> Gain:
    values = tuple(diffs.values())
    if not values:
        return Gain((), None, None, None, None)
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Gain(values, mean, None, None, None)
    std = statistics.stdev(values)
    if len(values) < MIN_T_SEEDS:
        return Gain(values, mean, std, None, None)
    half = t_quantile(0.975, len(values) - 1) * std / math.sqrt(len(values))
    return Gain(values, mean, std, (mean - half, mean + half), "t")


def _bootstrap_averages(comparison: Comparison, diffs: dict[str, dict[int, float]], group: Group,
                        base_runs: dict[int, Results], seeds: list[int], resamples: int, seed: int) -> None:
    """Replace the average rows' intervals by a bootstrap over the languages both columns scored every seed."""
    sources = {s for r in group.runs for s in str(r.averages.get("source_language", "en")).split("+")}
    complete = [row for row, d in diffs.items() if row not in AVERAGE_ROWS and len(d) == len(seeds)]
    members = {"avg": complete, "avg zero-shot": [lang for lang in complete if lang not in sources]}
    for row, languages in members.items():
        per_language = [statistics.fmean(diffs[lang].values()) for lang in languages]
        gain = comparison.gains[row]
        if len(per_language) < 2 or gain.mean is None:
            continue
        ci = bootstrap_mean_ci(per_language, resamples, seed)
        comparison.gains[row] = Gain(gain.diffs, gain.mean, gain.std, ci, "bootstrap")
        comparison.bootstrap_languages[row] = len(per_language)


def bootstrap_mean_ci(values: Sequence[float], resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement, seeded)."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


@functools.lru_cache(maxsize=64)
def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t distribution for ``0.5 <= p < 1`` (Newton's method on the integrated density).

    Self-contained so that reports need no scipy; checked against scipy in the tests.
    """
    if not 0.5 <= p < 1 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 <= p < 1 and df >= 1, got p={p}, df={df}")
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def density(t: float) -> float:
        return math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))

    def cdf(x: float, panels: int = 2000) -> float:  # Simpson's rule from 0; the density is symmetric
        h = x / panels
        inner = sum((4 if i % 2 else 2) * density(i * h) for i in range(1, panels))
        return 0.5 + h / 3 * (density(0.0) + inner + density(x))

    x = 0.0  # the CDF is concave on x > 0, so Newton's steps from the left approach the root from below
    for _ in range(100):
        step = (p - cdf(x)) / density(x)
        x += step
        if abs(step) < 1e-10:
            break
    return x


def format_gain(gain: Gain, digits: int = 1, interval: bool = True) -> str:
    """``+1.2 ± 0.8 [0.1, 2.3]`` (the std over paired seeds, then the 95 % CI where there is one)."""
    if gain.mean is None:
        return "–"
    text = f"{gain.mean:+.{digits}f}" + (f" ± {gain.std:.{digits}f}" if gain.std is not None else "")
    if interval and gain.ci is not None:
        text += f" [{gain.ci[0]:.{digits}f}, {gain.ci[1]:.{digits}f}]"
    return text


def render_markdown(task: str, metric: str, comparisons: Sequence[Comparison], rows: Sequence[str],
                    digits: int = 1) -> str:
    """The gains table of one task: rows x compared columns, then one note per column on its pairing."""
    baseline = comparisons[0].baseline if comparisons else "?"
    header = ["language"] + [c.label for c in comparisons]
    lines = [f"### {task}: gain over {baseline} ({metric} points; paired by seed; mean ± std [95 % CI])", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [format_gain(c.gains[row], digits) if c.paired else "unpaired" for c in comparisons]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += [""] + [f"- {c.describe()}" for c in comparisons]
    return "\n".join(lines)


def render_gains(runs: Sequence[Results], baseline: str, digits: int = 1, metric: str | None = None) -> str:
    """Markdown gains tables, one per task, for ``xling report --baseline LABEL``."""
    from xling.reporting.tables import check_metric, group_runs, runs_by_task

    check_metric(runs, metric)
    by_task = runs_by_task(runs)
    out = []
    for task, task_runs in by_task.items():
        groups = group_runs(task_runs, metric)
        comparisons = compare(groups, baseline)
        shown = metric or task_runs[0].primary_metric
        if not comparisons:
            out.append(f"### {task}: only the baseline column {baseline!r}; no gains to show")
            continue
        rows = table_languages(groups) + list(AVERAGE_ROWS)
        out.append(render_markdown(task, shown, comparisons, rows, digits))
    return "\n\n".join(out) + "\n"
