"""Paired gains against a baseline column: pairing by seed, t-intervals, the bootstrap for few seeds."""

from __future__ import annotations

import math
import statistics

import pytest

from tests.conftest import run_cli
from tests.report_runs import make_run, save_runs, sweep_runs
from xling.errors import XlingError
from xling.reporting.tables import group_runs
from xling.reporting.gains import bootstrap_mean_ci, compare, render_gains, t_quantile


def _by_label(comparisons):
    return {c.label: c for c in comparisons}


def test_t_quantile_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 4, 7, 19, 60):
        assert t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)
    assert t_quantile(0.9, 5) == pytest.approx(stats.t.ppf(0.9, 5), rel=1e-9)


def test_gains_are_paired_by_seed_with_a_t_interval():
    base = {1: 60.0, 2: 70.0, 3: 65.0}
    better = {1: 61.0, 2: 72.0, 3: 68.0}  # per seed: +1, +2, +3 (unpaired means differ by 2 with a large spread)
    runs = [make_run(s, {"en": 80.0, "de": base[s]}) for s in base]
    runs += [make_run(s, {"en": 80.0, "de": better[s]}, "aif", 2) for s in better]
    (comparison,) = compare(group_runs(runs), "last")
    gain = comparison.gains["de"]
    assert comparison.label == "aif@2" and comparison.seeds == [1, 2, 3]
    assert gain.diffs == (1.0, 2.0, 3.0) and gain.mean == pytest.approx(2.0) and gain.std == pytest.approx(1.0)
    half = 4.302652729749462 * 1.0 / math.sqrt(3)  # t(0.975, 2) from scipy
    assert gain.method == "t" and gain.ci == pytest.approx((2.0 - half, 2.0 + half))
    assert not gain.significant  # [-0.48, 4.48] holds zero
    assert comparison.gains["avg zero-shot"].mean == pytest.approx(2.0)  # zero-shot = de only
    assert comparison.gains["avg"].mean == pytest.approx(1.0)  # en unchanged: (0 + 2) / 2
    assert "t-interval over the paired seeds" in comparison.describe()


def test_a_column_is_paired_on_shared_seeds_only_and_says_which_were_left_out():
    runs = [make_run(s, {"en": 80.0, "de": 60.0 + s}) for s in (1, 2, 3)]
    runs += [make_run(s, {"en": 80.0, "de": 60.0 + 2 * s}, "aif", 4) for s in (2, 3, 4)]
    (comparison,) = compare(group_runs(runs), "last")
    assert comparison.seeds == [2, 3] and comparison.only_column == [4] and comparison.only_baseline == [1]
    assert comparison.gains["de"].diffs == (2.0, 3.0)  # seed 2: 64 - 62, seed 3: 66 - 63; never by position
    assert "unmatched seeds left out (4, 1)" in comparison.describe()


def test_columns_without_a_shared_seed_are_reported_unpaired():
    runs = [make_run(s, {"en": 80.0, "de": 60.0}) for s in (1, 2, 3)]
    runs += [make_run(s, {"en": 80.0, "de": 70.0}, "scalar_mix") for s in (7, 8)]
    (comparison,) = compare(group_runs(runs), "last")
    assert not comparison.paired and comparison.gains == {}
    text = render_gains(runs, "last")
    assert "| de | unpaired |" in text
    assert "scalar_mix: unpaired, no seed in common with last (seeds 7, 8 against 1, 2, 3); not compared" in text


def test_fewer_than_three_seeds_bootstrap_the_averages_over_languages():
    languages = [f"l{i}" for i in range(20)]
    gains = {lang: (i % 5) - 1.0 for i, lang in enumerate(languages)}  # per-language gains -1 .. 3
    runs, scores = [], {}
    for seed in (1, 2):
        scores = {"en": 80.0, **{lang: 50.0 + seed for lang in languages}}
        runs.append(make_run(seed, scores))
        runs.append(make_run(seed, {"en": 80.0, **{lang: scores[lang] + gains[lang] for lang in languages}},
                             "aif", 6))
    (comparison,) = compare(group_runs(runs), "last")
    zero_shot = comparison.gains["avg zero-shot"]
    assert zero_shot.method == "bootstrap" and comparison.bootstrap_languages == {"avg": 21, "avg zero-shot": 20}
    values = list(gains.values())
    mean, sem = statistics.fmean(values), statistics.pstdev(values) / math.sqrt(len(values))
    assert zero_shot.mean == pytest.approx(mean)
    low, high = zero_shot.ci
    assert low == pytest.approx(mean - 1.96 * sem, abs=0.1) and high == pytest.approx(mean + 1.96 * sem, abs=0.1)
    assert comparison.gains["l3"].ci is None and comparison.gains["l3"].method is None  # 2 seeds: no CI per language
    assert compare(group_runs(runs), "last")[0].gains["avg zero-shot"].ci == zero_shot.ci  # seeded
    assert "bootstrap over languages (avg over 21 languages, avg zero-shot over 20 languages" in comparison.describe()


def test_bootstrap_of_equal_values_is_that_value():
    assert bootstrap_mean_ci([1.5] * 6, resamples=500) == pytest.approx((1.5, 1.5))


def test_unknown_baseline_and_duplicate_seeds_are_errors():
    runs = sweep_runs()
    with pytest.raises(XlingError, match=r"no column labelled 'lst' .*'last', 'aif@2', 'aif@4'"):
        compare(group_runs(runs), "lst")
    twice = [make_run(1, {"de": 1.0}, run_dir="a"), make_run(1, {"de": 2.0}, run_dir="b"),
             make_run(1, {"de": 3.0}, "aif", 2)]
    with pytest.raises(XlingError, match="column 'last' has two runs with seed 1 .a and b."):
        compare(group_runs(twice), "aif@2")


def test_markdown_gains_table_from_the_command_line(tmp_path):
    save_runs(sweep_runs(), tmp_path / "runs")
    result = run_cli("report", tmp_path / "runs", "--baseline", "last")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("### panx (f1;") < out.index("### panx: gain over last (f1 points; paired by seed")
    gains = _by_label(compare(group_runs(sweep_runs()), "last"))
    aif6 = gains["aif@6"].gains["avg zero-shot"]
    row = next(line for line in out.splitlines() if line.startswith("| avg zero-shot | ") and "[" in line)
    assert f"{aif6.mean:+.1f} ± {aif6.std:.1f} [{aif6.ci[0]:.1f}, {aif6.ci[1]:.1f}]" in row
    assert "- aif@2: 3 paired seeds (1, 2, 3); 95 % CI: t-interval" in out
    bad = run_cli("report", tmp_path / "runs", "--baseline", "last", "--format", "csv")
    assert bad.returncode != 0 and "not to csv" in bad.stderr
