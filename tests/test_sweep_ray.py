"""``xling sweep --backend ray`` on a real two-node Ray cluster (Ray's own test cluster, on this machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")


def read(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def test_a_sweep_spreads_over_two_nodes_and_survives_losing_one(tiny_bert, sample_dir, tmp_path, monkeypatch):
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    base = {"task": "panx", "model": str(tiny_bert), "data_dir": str(sample_dir["panx"]), "languages": ["en", "de"],
            "max_steps": 6, "checkpoint_every": 2, "batch_size": 8, "save_model": False, "save_predictions": False,
            "oracle_selection": False}
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"base": base, "seeds": [1, 2, 3, 4], "resources": {"cpus": 1}}))
    out = tmp_path / "sweep"
    keys = [f"panx/base-s{seed}" for seed in (1, 2, 3, 4)]
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        second = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        driver = subprocess.Popen([sys.executable, "-m", "xling", "sweep", str(spec), "--output-dir", str(out),
                                   "--ray-address", cluster.address], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        lost = None
        deadline = time.time() + 900
        while driver.poll() is None and time.time() < deadline:
            time.sleep(0.3)
            if lost:
                continue
            finished_there = [k for k in keys if read(out / k / "results.json").get("environment", {}).get("node")
                              == second.node_id]
            running_there = [k for k in keys if read(out / k / "sweep-status.json").get("node") == second.node_id
                             and read(out / k / "sweep-status.json").get("state") == "running"
                             and not (out / k / "results.json").exists()]
            if finished_there and running_there:
                lost = running_there[0]
                cluster.remove_node(second)  # the node goes away with a run in flight
        output = driver.communicate(timeout=60)[0]
        assert driver.returncode == 0, output
        assert lost, f"no run was in flight on the second node after one had finished there:\n{output}"
        nodes = {}
        for key in keys:
            events = [json.loads(line) for line in (out / key / "sweep-events.jsonl").read_text().splitlines()]
            ends = [e["state"] for e in events if e["event"] == "end"]
            # finished exactly once: one attempt ended done (none, when the node went with the run's results
            # already written and the retry found them); a second completion would have failed on them
            assert ends.count("done") <= 1 and "failed" not in ends, (key, events)
            nodes[key] = read(out / key / "results.json")["environment"]["node"]
        assert second.node_id in nodes.values() and len(set(nodes.values())) == 2  # spread over both nodes
        assert nodes[lost] != second.node_id and f"retry    {lost} (" in output
        assert len([line for line in (out / lost / "sweep-events.jsonl").read_text().splitlines()
                    if '"start"' in line]) == 2
        status = run_cli("sweep", "status", out)
        assert "4 runs: 4 done, 0 running, 0 failed, 0 pending" in status.stdout
    finally:
        cluster.shutdown()
