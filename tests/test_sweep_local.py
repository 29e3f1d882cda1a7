"""``xling sweep`` on the local backend with the tiny model: selection, report, a killed sweep continued,
a killed run retried with --resume, a failed run that does not stop the others."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yaml

from tests.conftest import ROOT, run_cli


def write_spec(path, tiny_bert, sample_dir, **raw):
    base = {"task": "panx", "model": str(tiny_bert), "data_dir": str(sample_dir["panx"]), "languages": ["en", "de"],
            "max_steps": 4, "batch_size": 8, "save_model": False, "save_predictions": False,
            "oracle_selection": False}
    path.write_text(yaml.safe_dump({"base": base, **raw}))
    return path


def events(run_dir):
    return [json.loads(line) for line in (run_dir / "sweep-events.jsonl").read_text().splitlines()]


def test_a_killed_sweep_continues_with_the_same_command_and_reports_by_config(tiny_bert, sample_dir, tmp_path):
    spec = write_spec(tmp_path / "lr.yaml", tiny_bert, sample_dir, configs={"last": {"fusion": "last"}}, seeds=[1, 2],
                      select={"key": "learning_rate", "values": ["1e-3", "1e-5"], "on": "english-dev", "seeds": [1]})
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "xling", "sweep", str(spec), "--output-dir", str(out), "--jobs", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "panx" / "last-lr1e-3-s1"
    deadline = time.time() + 400
    while time.time() < deadline and driver.poll() is None and not (
            (first / "sweep-events.jsonl").exists() and '"end"' in (first / "sweep-events.jsonl").read_text()):
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)  # the sweep dies; its run in flight dies with it
    driver.wait()
    assert (first / "results.json").exists()
    assert not (out / "panx" / "last-lr1e-5-s1" / "results.json").exists()
    again = run_cli(*command[3:], env={"PYTHONPATH": str(ROOT)}, timeout=900)
    assert again.returncode == 0, again.stderr
    assert "1 finished earlier" in again.stderr
    assert [e["event"] for e in events(first)] == ["start", "end"]  # not run again
    scores = {key: json.loads((out / "panx" / key / "results.json").read_text())["stages"][-1]["selection"]["best_score"]
              for key in ("last-lr1e-3-s1", "last-lr1e-5-s1")}
    chosen = "1e-3" if scores["last-lr1e-3-s1"] >= scores["last-lr1e-5-s1"] else "1e-5"
    assert (out / "panx" / f"last-lr{chosen}-s2" / "results.json").exists()  # the other seed, with the choice
    report = run_cli("report", out)
    assert report.returncode == 0, report.stderr
    assert "| language | last (n=2) |" in report.stdout
    assert f"| panx | last | learning_rate={chosen} | 1 | {scores[f'last-lr{chosen}-s1']:.2f} | **yes** |" in report.stdout
    status = run_cli("sweep", "status", out)
    assert "3 runs: 3 done, 0 running, 0 failed, 0 pending" in status.stdout


def test_a_killed_run_resumes_and_a_failed_run_does_not_stop_the_others(tiny_bert, sample_dir, tmp_path):
    spec = write_spec(tmp_path / "s.yaml", tiny_bert, sample_dir, seeds=[1], retries=1,
                      configs={"last": {"max_steps": 6, "checkpoint_every": 2},
                               "broken": {"data_dir": str(tmp_path / "no-data")}})
    out = tmp_path / "sweep"
    # every attempt kills itself at step 4, right after its checkpoint there; the resumed one starts after it
    result = run_cli("sweep", spec, "--output-dir", out, "--jobs", "2", env={"XLING_TEST_KILL_AFTER_STEP": "4"},
                     timeout=900)
    assert result.returncode == 1, result.stderr
    last, broken = out / "panx" / "last-s1", out / "panx" / "broken-s1"
    assert (last / "results.json").exists() and not (broken / "results.json").exists()
    starts = [e for e in events(last) if e["event"] == "start"]
    assert [e["resume"] for e in starts] == [False, True]
    assert [e["state"] for e in events(last) if e["event"] == "end"] == ["killed", "done"]
    assert "resumed from" in (last / "sweep.log").read_text() and "at step 4/6" in (last / "sweep.log").read_text()
    assert json.loads((last / "results.json").read_text())["stages"][0]["steps"] == 6
    assert len([e for e in events(broken) if e["event"] == "start"]) == 1  # a data error is not retried
    assert f"log {broken}/sweep.log" in result.stderr and "### failed runs" in result.stdout
    status = run_cli("sweep", "status", out)
    assert "1 failed" in status.stdout and "failed   panx/broken-s1: " in status.stdout
