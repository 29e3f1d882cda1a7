"""Ensembles of tiny runs: probability averaging, majority vote, weight averaging, the comparison table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli
from xling.cli import main
from xling.errors import ConfigError
from xling.evaluation.ensemble import average_probabilities, majority_vote, run_ensemble
from xling.reporting.results import Results

LANGS = ["de", "es", "fr"]


def train(model: Path, data: Path, out: Path, task: str = "pawsx", languages: list[str] = LANGS, **options) -> Path:
    from xling.config import TrainConfig
    from xling.training.run import run_training

    cfg = TrainConfig(task=task, model=str(model), data_dir=str(data), output_dir=str(out), languages=languages,
                      max_steps=2, batch_size=8, learning_rate=1e-3, max_seq_length=48, quiet=True,
                      oracle_selection=False, **options)
    run_training(cfg)
    return out


@pytest.fixture(scope="module")
def runs(tiny_bert, sample_dir, tmp_path_factory) -> list[Path]:
    """Three PAWS-X runs that differ by seed (different heads, so different probabilities)."""
    root = tmp_path_factory.mktemp("members")
    return [train(tiny_bert, sample_dir["pawsx"], root / f"seed{seed}", seed=seed) for seed in (1, 2, 3)]


def saved_probs(run: Path, lang: str) -> list[np.ndarray]:
    with np.load(run / "predictions" / f"{lang}.probs.npz") as arrays:
        return [arrays[f"e{i}"].astype(np.float64) for i in range(len(arrays.files))]


def gold(run: Path, lang: str) -> list[str]:
    lines = (run / "predictions" / f"{lang}.jsonl").read_text().splitlines()
    return [json.loads(line)["gold"] for line in lines]


def accuracy(probs: list[np.ndarray], golds: list[str], labels: list[str]) -> float:
    return 100.0 * sum(labels[int(np.argmax(p))] == g for p, g in zip(probs, golds)) / len(golds)


def test_majority_vote_breaks_ties_by_summed_probability():
    # Votes: label 0 twice, label 1 twice, label 2 never. Summed probabilities: 0.95, 1.50, 1.55.
    # The tie between 0 and 1 goes to 1 (larger sum); 2 has the largest sum but no vote, and
    # probability averaging would pick it.
    members = [[np.array([0.40, 0.25, 0.35])], [np.array([0.40, 0.25, 0.35])],
               [np.array([0.10, 0.50, 0.40])], [np.array([0.05, 0.50, 0.45])]]
    (voted,) = majority_vote(members)
    assert int(np.argmax(voted)) == 1 and voted.sum() == pytest.approx(1.0)
    assert int(np.argmax(average_probabilities(members)[0])) == 2
    # a clear majority wins whatever the probabilities: two weak votes for 0 beat one confident 1
    (clear,) = majority_vote([[np.array([0.51, 0.49])], [np.array([0.51, 0.49])], [np.array([0.0, 1.0])]])
    assert int(np.argmax(clear)) == 0
    # per word for tagging outputs (words x labels)
    tags = majority_vote([[np.array([[0.9, 0.1], [0.4, 0.6]])], [np.array([[0.2, 0.8], [0.3, 0.7]])]])[0]
    assert tags.shape == (2, 2) and list(np.argmax(tags, axis=-1)) == [0, 1]  # tie on word 0: sums 1.1 vs 0.9


def test_majority_vote_rejects_mismatched_members():
    with pytest.raises(Exception, match="different numbers of examples"):
        majority_vote([[np.ones(2)], [np.ones(2), np.ones(2)]])
    with pytest.raises(Exception, match="different shapes"):
        average_probabilities([[np.ones(2)], [np.ones(3)]])


def test_probability_average_equals_hand_average_of_saved_probabilities(runs, tmp_path):
    out = tmp_path / "prob"
    outcome = run_ensemble(runs, out, "prob")
    results = Results.load(out)
    labels = results.task["labels"]
    assert results.fusion["method"] == "ensemble:prob" and results.config["fusion"] == "ensemble:prob"
    assert results.config["members"] == [str(r) for r in runs]
    assert list(results.languages) == LANGS
    for lang in LANGS:
        by_hand = [np.mean(ps, axis=0) for ps in zip(*(saved_probs(r, lang) for r in runs))]
        written = saved_probs(out, lang)
        assert len(written) == 40 and np.allclose(np.stack(written), np.stack(by_hand), atol=1e-3)
        assert results.languages[lang].primary == pytest.approx(accuracy(by_hand, gold(runs[0], lang), labels))
        for run in runs:  # saved probabilities cover the same examples: members keep their recorded scores
            assert outcome.member_scores[run.name][lang] == Results.load(run).languages[lang]


def test_comparison_table_lists_every_member_and_the_best(runs, tmp_path):
    outcome = run_ensemble(runs, tmp_path / "table", "prob", digits=2)
    assert outcome.header == ["language", "seed1", "seed2", "seed3", "best member", "ensemble (prob)", "Δ vs best"]
    assert [row[0] for row in outcome.rows] == [*LANGS, "avg", "avg zero-shot"]
    for row in outcome.rows:
        members, best, ensemble, delta = [float(c) for c in row[1:4]], float(row[4]), float(row[5]), float(row[6])
        assert best == max(members) and delta == pytest.approx(ensemble - best, abs=0.011)
    de = outcome.rows[0]
    assert float(de[1]) == pytest.approx(outcome.member_scores["seed1"]["de"].primary, abs=0.005)


def test_majority_vote_of_runs_matches_hand_vote(runs, tmp_path):
    out = tmp_path / "vote"
    run_ensemble(runs, out, "vote", languages=["de"])
    results = Results.load(out)
    labels = results.task["labels"]
    members = [saved_probs(r, "de") for r in runs]
    expected = []
    for probs in zip(*members):
        votes = np.bincount([int(np.argmax(p)) for p in probs], minlength=len(labels))
        sums = np.sum(probs, axis=0)
        tied = np.flatnonzero(votes == votes.max())
        expected.append(labels[int(tied[np.argmax(sums[tied])])])
    predicted = [json.loads(line)["prediction"] for line in (out / "predictions" / "de.jsonl").read_text().splitlines()]
    assert predicted == expected and list(results.languages) == ["de"]


def test_missing_probabilities_are_recomputed_from_the_model(runs, tmp_path):
    copy = tmp_path / "no-probs"
    shutil.copytree(runs[1], copy)
    for npz in (copy / "predictions").glob("*.probs.npz"):
        npz.unlink()
    outcome = run_ensemble([runs[0], copy], tmp_path / "recomputed", "prob", languages=["es"])
    recomputed = list(outcome.member_scores.values())[1]["es"]  # scored by running the copy's model
    assert recomputed.primary == Results.load(runs[1]).languages["es"].primary
    run_ensemble([runs[0], runs[1]], tmp_path / "saved", "prob", languages=["es"])
    assert np.allclose(saved_probs(tmp_path / "recomputed", "es"), saved_probs(tmp_path / "saved", "es"), atol=2e-3)
    shutil.rmtree(copy / "model")
    with pytest.raises(ConfigError, match="no saved model"):
        run_ensemble([runs[0], copy], tmp_path / "impossible", "prob", languages=["es"])


def test_weight_average_of_identical_runs_scores_like_the_run(runs, tmp_path):
    from xling.models import HeadSpec, load_model, save_model

    twin = tmp_path / "twin"
    shutil.copytree(runs[0], twin)
    model = load_model(twin / "model")  # as after a pipeline: an intermediate task's head too (dropped)
    model.add_head("sick", HeadSpec("classification", ["entailment", "neutral", "contradiction"]))
    save_model(model, twin / "model")
    out = tmp_path / "weights"
    run_ensemble([runs[0], twin], out, "weights")
    original, averaged = Results.load(runs[0]), Results.load(out)
    assert averaged.fusion["method"] == "ensemble:weights"
    for lang in LANGS:
        assert averaged.languages[lang].primary == original.languages[lang].primary
        assert np.allclose(saved_probs(out, lang), saved_probs(runs[0], lang), atol=1e-3)
    assert list(json.loads((out / "model" / "xling_model.json").read_text())["heads"]) == ["pawsx"]
    assert (out / "config.yaml").is_file()


def test_weight_average_refuses_different_architectures(runs, tiny_bert, sample_dir, tmp_path):
    other = train(tiny_bert, sample_dir["pawsx"], tmp_path / "aif", languages=["fr"], seed=1, fusion="aif",
                  fusion_layer=1)
    with pytest.raises(ConfigError, match="different architectures.*fusion: 'last' vs 'aif'"):
        run_ensemble([runs[0], other], tmp_path / "mixed", "weights")
    assert not (tmp_path / "mixed" / "results.json").exists()
    run_ensemble([runs[0], other], tmp_path / "mixed-prob", "prob", languages=["fr"])  # outputs still combine


def test_tagging_runs_average_per_word(tiny_bert, sample_dir, tmp_path):
    members = [train(tiny_bert, sample_dir["panx"], tmp_path / f"ner{s}", task="panx", languages=["de"], seed=s)
               for s in (1, 2)]
    out = tmp_path / "ner-prob"
    run_ensemble(members, out, "prob")
    by_hand = [np.mean(ps, axis=0) for ps in zip(*(saved_probs(m, "de") for m in members))]
    written = saved_probs(out, "de")
    assert all(w.shape == h.shape and w.ndim == 2 for w, h in zip(written, by_hand))
    assert all(np.allclose(w, h, atol=1e-3) for w, h in zip(written, by_hand))


@pytest.mark.slow
def test_cli_ensemble_report_and_refusals(runs, tmp_path, capsys):
    out = tmp_path / "cli"
    result = run_cli("ensemble", *runs[:2], "--output-dir", out, "--method", "vote", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "| language | seed1 | seed2 | best member | ensemble (vote) | Δ vs best |" in result.stdout
    assert main(["ensemble", *map(str, runs[:2]), "--output-dir", str(out)]) == 2
    assert "already holds results" in capsys.readouterr().err
    assert main(["report", str(out), str(runs[0])]) == 0
    assert "ensemble:vote" in capsys.readouterr().out
    assert main(["ensemble", str(runs[0]), "--output-dir", str(tmp_path / "one")]) == 2
    assert "at least 2 runs" in capsys.readouterr().err
    assert main(["ensemble", str(runs[0]), str(runs[0]) + "/", "--output-dir", str(tmp_path / "twice")]) == 2
    assert "given twice" in capsys.readouterr().err


def test_report_groups_ensembles_whose_members_differ_only_by_seed(runs, tmp_path):
    from xling.reporting.tables import group_runs, render

    run_ensemble([str(r) for r in runs[:2]], tmp_path / "ens-a", method="prob", quiet=True, save_model=False)
    run_ensemble([str(r) for r in runs[1:]], tmp_path / "ens-b", method="prob", quiet=True, save_model=False)
    loaded = [Results.load(tmp_path / name / "results.json") for name in ("ens-a", "ens-b")]
    groups = group_runs(loaded + [Results.load(r / "results.json") for r in runs])
    # one column for the three single runs (seeds), one for the two ensembles of same-experiment members
    assert sorted(len(g.runs) for g in groups) == [2, 3]
    ensemble = next(g for g in groups if len(g.runs) == 2)
    assert ensemble.label.startswith("ensemble:prob members=")
    table = render(loaded)
    assert "(n=2)" in table and "±" in table


def test_report_labels_the_run_without_intermediate_task_beside_pipelines():
    from xling.reporting.tables import _label

    varying = ["fusion", "intermediate", "members"]  # as beside ensembles, whose "fusion" differs
    assert _label({"fusion": "last", "intermediate": "None", "members": "None"}, varying) == "last no intermediate"
    assert _label({"fusion": "last", "intermediate": "'sick'", "members": "None"}, varying) == "last intermediate=sick"
    ensemble = {"fusion": "'ensemble:prob'", "intermediate": "None", "members": "['o/a-s1', 'o/b-s1']"}
    assert _label(ensemble, varying) == "ensemble:prob members=a-s1+b-s1"
