"""The scheduler on a scripted backend (no processes): skipping, bounded retries, failures that do not stop
the others, selection on English dev only, the manifest and the report of a sweep directory."""

from __future__ import annotations

import io
import json
import os
import socket
import time

import pytest

from xling.errors import ConfigError
from xling.reporting.results import LanguageScore, Results, averages
from xling.sweep.local import gpu_slots
from xling.sweep.scheduler import Sweep, select_only
from xling.sweep.selection import SelectionError, selection_score
from xling.sweep.spec import first_runs, parse_spec
from xling.sweep.state import (DRIVER, STATUS, Driver, read_manifest, run_state, status_text, summarize, write_json)
from xling.sweep.worker import Outcome

BASE = {"task": "panx", "model": "m", "max_steps": 4}


def write_results(run_dir, seed, english_dev, de, language="en"):
    """A finished run: its English selection score and a German test score."""
    languages = {"en": LanguageScore("test", "x", 10, 10, {"f1": 50.0}, 50.0),
                 "de": LanguageScore("test", "x", 10, 10, {"f1": de}, de)}
    stage = {"language": language, "selection": {"metric": "f1", "split": "dev", "examples": 30, "best_step": 4,
                                                 "best_score": english_dev}}
    Results(task={"name": "panx", "primary_metric": "f1"}, model={}, fusion={}, seed=seed,
            config={"seed": seed, "output_dir": str(run_dir)}, languages=languages,
            averages=averages(languages, "en"), stages=[stage]).save(run_dir)


class ScriptedBackend:
    """Each run's attempts end as its script says (default: done); a done attempt writes results."""

    name = "scripted"

    def __init__(self, scripts=None, scores=None, parallel=2):
        self.scripts, self.scores, self.parallel = scripts or {}, scores or {}, parallel
        self.submitted, self.queue = [], []

    def describe(self):
        return "scripted"

    def free(self, in_flight):
        return in_flight < self.parallel

    def submit(self, job):
        self.submitted.append((job.key, job.attempt))
        self.queue.append(job)

    def wait(self, timeout):
        outcomes = []
        for job in self.queue:
            state = self.scripts.get(job.key, ["done"])[job.attempt - 1]
            if state == "done":
                english, de = self.scores.get(job.key, (10.0, 10.0))
                write_results(os.path.join(job.run_dir), int(job.key.rsplit("-s", 1)[1]), english, de)
            outcomes.append(Outcome(job.key, state, 0 if state == "done" else -9, error=f"scripted {state}"))
        self.queue = []
        return outcomes

    def stop(self):
        pass

    def close(self):
        pass


def sweep_of(tmp_path, **raw):
    return Sweep(parse_spec({"base": BASE, **raw}, "t.yaml"), tmp_path / "sweep")


def test_retries_are_bounded_failures_do_not_stop_the_others_and_finished_runs_are_skipped(tmp_path, capsys):
    sweep = sweep_of(tmp_path, seeds=[1, 2, 3, 4], retries=2)
    backend = ScriptedBackend({"panx/base-s1": ["killed", "done"], "panx/base-s2": ["lost", "killed", "killed"],
                               "panx/base-s3": ["failed"]})
    result = sweep.run(backend)
    assert sorted(result.ran) == ["panx/base-s1", "panx/base-s4"]
    assert set(result.failed) == {"panx/base-s2", "panx/base-s3"}
    assert sorted(backend.submitted) == [("panx/base-s1", 1), ("panx/base-s1", 2), ("panx/base-s2", 1),
                                         ("panx/base-s2", 2), ("panx/base-s2", 3), ("panx/base-s3", 1),
                                         ("panx/base-s4", 1)]  # a plain failure is not retried
    out = tmp_path / "sweep"
    assert run_state(out, "panx/base-s2").state == "failed"
    assert "no retries left" in run_state(out, "panx/base-s2").detail
    assert "FAILED   panx/base-s3: scripted failed" in capsys.readouterr().err
    # the same sweep again: finished runs are not started, failed ones get a new try
    again = ScriptedBackend()
    result = sweep_of(tmp_path, seeds=[1, 2, 3, 4], retries=2).run(again)
    assert sorted(again.submitted) == [("panx/base-s2", 1), ("panx/base-s3", 1)] and not result.failed
    assert summarize(out).line() == "4 runs: 4 done, 0 running, 0 failed, 0 pending"
    assert read_manifest(out)["counted"] == [f"panx/base-s{s}" for s in (1, 2, 3, 4)]


def test_selection_uses_the_english_selection_score_and_runs_the_other_seeds(tmp_path):
    select = {"key": "learning_rate", "values": ["1e-4", "2e-4"], "seeds": [1]}
    sweep = sweep_of(tmp_path, configs={"last": {}, "aif": {"fusion": "aif"}}, seeds=[1, 2, 3], select=select,
                     baseline="last")
    assert [r for r in sweep.runs] == ["panx/last-lr1e-4-s1", "panx/last-lr2e-4-s1", "panx/aif-lr1e-4-s1",
                                       "panx/aif-lr2e-4-s1"]
    # (English selection score, German test score): German would pick the other candidate both times
    scores = {"panx/last-lr1e-4-s1": (60.0, 10.0), "panx/last-lr2e-4-s1": (50.0, 90.0),
              "panx/aif-lr1e-4-s1": (40.0, 80.0), "panx/aif-lr2e-4-s1": (70.0, 20.0)}
    backend = ScriptedBackend(scores=scores)
    sweep.run(backend)
    submitted = [key for key, _ in backend.submitted]
    assert set(submitted[4:]) == {"panx/last-lr1e-4-s2", "panx/last-lr1e-4-s3", "panx/aif-lr2e-4-s2",
                                  "panx/aif-lr2e-4-s3"}
    out = tmp_path / "sweep"
    manifest = read_manifest(out)
    groups = {g["group"]: g for g in manifest["groups"]}
    assert groups["panx/last"]["chosen"] == 0 and groups["panx/aif"]["chosen"] == 1
    assert groups["panx/aif"]["candidates"][1]["scores"] == {"1": 70.0}
    assert "target languages not used" in groups["panx/aif"]["reason"]
    assert sorted(manifest["counted"]) == sorted(["panx/last-lr1e-4-s1", "panx/last-lr1e-4-s2", "panx/last-lr1e-4-s3",
                                                  "panx/aif-lr2e-4-s1", "panx/aif-lr2e-4-s2", "panx/aif-lr2e-4-s3"])
    # the general report: one column per config, named by it, mean ± std over the three seeds
    from xling.reporting.tables import render
    from xling.sweep.table import render_sweep, report_runs, selection_tables

    table = render(report_runs([out]))
    assert "| language | last (n=3) | aif (n=3) |" in table
    assert "| de | 10.0 ± 0.0 | 13.3 ± 5.8 |" in table  # aif: 20 (the chosen candidate), 10, 10; not the loser's 80
    selection = selection_tables([out])[0]
    assert "| panx | aif | learning_rate=2e-4 | 1 | 70.00 | **yes** |" in selection
    assert "| panx | aif | learning_rate=1e-4 | 1 | 40.00 |  |" in selection
    assert "Baseline config: last" in render_sweep(out)


def test_a_failed_candidate_blocks_only_its_config(tmp_path):
    select = {"key": "learning_rate", "values": ["1e-4", "2e-4"], "seeds": [1]}
    sweep = sweep_of(tmp_path, configs={"last": {}, "aif": {"fusion": "aif"}}, seeds=[1, 2], select=select)
    backend = ScriptedBackend({"panx/aif-lr1e-4-s1": ["failed"]})
    result = sweep.run(backend)
    assert set(result.failed) == {"panx/aif-lr1e-4-s1"}
    assert "panx/last-lr1e-4-s2" in result.ran and not any(k.startswith("panx/aif") and k.endswith("s2")
                                                          for k, _ in backend.submitted)
    groups = {g["group"]: g for g in read_manifest(tmp_path / "sweep")["groups"]}
    assert groups["panx/aif"]["state"] == "blocked" and "aif-lr1e-4-s1 failed" in groups["panx/aif"]["reason"]


def test_selection_never_reads_a_non_english_selection(tmp_path):
    write_results(tmp_path, 1, 50.0, 50.0, language="de")
    with pytest.raises(SelectionError, match="selected on de data, not English"):
        selection_score(tmp_path)
    write_results(tmp_path, 1, 55.0, 50.0, language="en+de")
    assert selection_score(tmp_path)["score"] == 55.0


def test_a_run_directory_made_otherwise_is_refused(tmp_path):
    sweep_of(tmp_path, seeds=[1]).run(ScriptedBackend())
    with pytest.raises(ConfigError, match="was run with other options .*max_steps: 4 -> 5"):
        Sweep(parse_spec({"base": {**BASE, "max_steps": 5}, "seeds": [1]}, "t.yaml"), tmp_path / "sweep")
    foreign = tmp_path / "sweep" / "panx" / "base-s2"
    foreign.mkdir()
    write_results(foreign, 2, 1.0, 1.0)
    with pytest.raises(ConfigError, match="did not start"):
        sweep_of(tmp_path, seeds=[1, 2])
    # quiet, resume and the like may change
    Sweep(parse_spec({"base": {**BASE, "quiet": False}, "seeds": [1]}, "t.yaml"), tmp_path / "sweep")


def test_states_status_and_a_second_driver(tmp_path):
    sweep = sweep_of(tmp_path, seeds=[1, 2, 3, 4])
    sweep.save()  # makes the run directories
    out = tmp_path / "sweep"
    write_results(out / "panx/base-s1", 1, 1.0, 1.0)
    now = time.time()
    write_json(out / "panx/base-s2" / STATUS, {"state": "running", "started": now - 5, "heartbeat": now, "node": "n1"})
    write_json(out / "panx/base-s3" / STATUS, {"state": "running", "started": now - 500, "heartbeat": now - 400})
    write_json(out / "panx/base-s4" / STATUS, {"state": "failed", "error": "test-de has no labels"})
    assert [run_state(out, k).state for k in sweep.runs] == ["done", "running", "pending", "failed"]
    text = status_text(out)
    assert "4 runs: 1 done, 1 running, 1 failed, 1 pending" in text and "[#######" in text
    assert "running  panx/base-s2 (attempt 1 on n1, 5 s)" in text
    assert "pending  panx/base-s3 (interrupted, will resume)" in text
    assert f"failed   panx/base-s4: test-de has no labels (log: {out / 'panx/base-s4/sweep.log'})" in text
    write_json(out / DRIVER, {"state": "running", "pid": 1, "host": "elsewhere", "heartbeat": time.time()})
    with pytest.raises(ConfigError, match="a sweep is already running"):  # a fresh heartbeat from another machine
        Driver(out, "local", 4)
    write_json(out / DRIVER, {"state": "running", "pid": 1, "host": "elsewhere", "heartbeat": time.time() - 3600})
    Driver(out, "local", 4)  # a stale heartbeat: that sweep is gone
    write_json(out / DRIVER, {"state": "running", "pid": 1, "host": socket.gethostname(), "heartbeat": time.time()})
    Driver(out, "local", 4).stop("finished")  # this machine, and no xling process has that pid: killed
    assert json.loads((out / DRIVER).read_text())["state"] == "finished"


def test_only_keeps_whole_selection_groups(tmp_path):
    s = parse_spec({"base": BASE, "tasks": ["panx", "udpos"], "configs": {"last": {}, "aif": {}},
                    "select": {"key": "dropout", "values": [0.1, 0.2]}}, "t.yaml")
    runs = first_runs(s, tmp_path)
    assert {r.key for r in select_only(runs, ["udpos/aif"])} == {"udpos/aif-do0.1-s42", "udpos/aif-do0.2-s42"}
    assert len(select_only(runs, ["panx/*"])) == 4
    with pytest.raises(ConfigError, match="matches no run"):
        select_only(runs, ["xnli/*"])
    sweep = Sweep(s, tmp_path / "sweep", only=["udpos/aif"])
    backend, stream = ScriptedBackend(), io.StringIO()
    sweep.run(backend, stream=stream)
    assert sorted(backend.submitted) == [("udpos/aif-do0.1-s42", 1), ("udpos/aif-do0.2-s42", 1)]
    assert "8 runs in" in stream.getvalue() and "0 finished earlier, 2 to run now (--only)" in stream.getvalue()
    assert len(read_manifest(tmp_path / "sweep")["runs"]) == 8  # the manifest still lists the whole sweep
    assert summarize(tmp_path / "sweep").line() == "8 runs: 2 done, 0 running, 0 failed, 6 pending"


def test_gpus_are_split_between_slots():
    assert gpu_slots(4, ["0", "1"], None) == ["0", "1", "0", "1"]  # one GPU per run, round robin
    assert gpu_slots(8, ["0", "1"], 0.25) == ["0"] * 4 + ["1"] * 4  # four runs share a GPU
    assert gpu_slots(2, ["0", "1", "2", "3"], 2) == ["0,1", "2,3"]
    assert gpu_slots(2, ["0"], 0) == ["", ""] and gpu_slots(2, [], None) == [None, None]
    with pytest.raises(ConfigError, match="no GPU is visible"):
        gpu_slots(1, [], 0.5)


def test_runs_of_an_earlier_invocation_with_other_seeds_stay_in_the_report(tmp_path):
    """``--seeds 3`` after a sweep of seeds 1, 2: the report still counts all three (same options); a run
    whose options the sweep file has since changed is left out."""
    from xling.sweep.table import sweep_runs

    raw = {"configs": {"last": {"fusion": "last"}, "aif": {"fusion": "aif", "fusion_layer": 1}}}
    Sweep(parse_spec({"base": BASE, **raw, "seeds": [1, 2]}, "t.yaml"), tmp_path / "sweep").run(ScriptedBackend())
    again = ScriptedBackend()
    Sweep(parse_spec({"base": BASE, **raw, "seeds": [3]}, "t.yaml"), tmp_path / "sweep").run(again)
    assert sorted(key for key, _ in again.submitted) == ["panx/aif-s3", "panx/last-s3"]
    out = tmp_path / "sweep"
    assert sorted(read_manifest(out)["counted"]) == sorted(f"panx/{c}-s{s}" for c in ("aif", "last") for s in (1, 2, 3))
    assert sorted((r.config["label"], r.seed) for r in sweep_runs(out)) == sorted(
        (c, s) for c in ("aif", "last") for s in (1, 2, 3))
    assert summarize(out).line() == "6 runs: 6 done, 0 running, 0 failed, 0 pending"
    changed = {"configs": {"last": {"fusion": "last"}, "aif": {"fusion": "aif", "fusion_layer": 2}}}
    Sweep(parse_spec({"base": BASE, **changed, "seeds": [4]}, "t.yaml"), tmp_path / "sweep").run(ScriptedBackend())
    counted = read_manifest(out)["counted"]
    assert {f"panx/last-s{s}" for s in (1, 2, 3, 4)} <= set(counted)
    assert [key for key in counted if key.startswith("panx/aif-")] == ["panx/aif-s4"]  # s1-s3 had layer 1
