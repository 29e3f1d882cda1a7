"""Experiment trackers: a tiny run logs to TensorBoard, MLflow and W&B (offline), read back with each one's reader."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from xling.errors import ConfigError
from xling.training.trackers import Tracking, hyperparameters, parse_report_to

STEPS, LOGGING_STEPS, EVAL_EVERY = 6, 2, 3


def tracked_run(model: Path, data: Path, out: Path, trackers: list[str]):
    from xling.config import TrainConfig
    from xling.training.run import run_training

    cfg = TrainConfig(task="panx", model=str(model), data_dir=str(data), output_dir=str(out), languages=["en", "de"],
                      max_steps=STEPS, eval_every=EVAL_EVERY, logging_steps=LOGGING_STEPS, batch_size=8,
                      learning_rate=1e-3, max_seq_length=32, max_train_examples=48, max_eval_examples=10,
                      oracle_selection=False, save_model=False, save_predictions=False, quiet=True,
                      report_to=trackers)
    return run_training(cfg)


@pytest.fixture(scope="module")
def run_tensorboard(tiny_bert, sample_dir, tmp_path_factory):
    pytest.importorskip("tensorboard")
    out = tmp_path_factory.mktemp("tracked") / "run"
    return out, tracked_run(tiny_bert, sample_dir["panx"], out, ["tensorboard"])


@pytest.fixture(scope="module")
def run_all(tiny_bert, sample_dir, tmp_path_factory):
    """One run reporting to MLflow (the run directory's SQLite store) and W&B (offline): ~30 s to start both."""
    pytest.importorskip("mlflow")
    pytest.importorskip("wandb")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path_factory.mktemp("tracked") / "run"
    try:
        results = tracked_run(tiny_bert, sample_dir["panx"], out, ["mlflow", "wandb"])
    finally:
        monkeypatch.undo()
    return out, results


def scalars(directory: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory))
    events.Reload()
    return events


def test_report_to_names_are_checked():
    assert parse_report_to(["none"]) == [] and parse_report_to(["TensorBoard", "mlflow", "tensorboard"]) == [
        "tensorboard", "mlflow"]
    with pytest.raises(ConfigError, match="unknown tracker 'comet'; choose from tensorboard, mlflow, wandb or none"):
        parse_report_to(["comet"])
    from xling.config import TrainConfig

    with pytest.raises(ConfigError, match="unknown tracker"):
        TrainConfig(report_to=["tensorbord"])


def test_hyperparameters_are_flat_scalars():
    params = hyperparameters({"lr": 1e-3, "languages": ["de", "fr"], "fusion_options": {"reduction": 4},
                              "max_steps": None, "files": {}})
    assert params == {"lr": 1e-3, "languages": "de,fr", "fusion_options.reduction": 4, "max_steps": "None",
                      "files": "{}"}


class FakeState:
    def __init__(self) -> None:
        self.step, self.loss_sum, self.loss_count = 0, 0.0, 0


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.logged: list[tuple[int | None, dict]] = []

    def log(self, values, step=None):
        self.logged.append((step, values))

    def finish(self):
        pass


def test_training_loss_is_the_mean_since_the_last_log():
    recorder = Recorder()
    tracking, state = Tracking([recorder], logging_steps=2), FakeState()
    for step, loss in enumerate([4.0, 2.0, 1.0, 3.0], start=1):
        state.step, state.loss_sum, state.loss_count = step, state.loss_sum + loss, state.loss_count + 1
        tracking.on_step(state, 0.1, 0.5)
    assert [(s, v["train/loss"]) for s, v in recorder.logged] == [(2, 3.0), (4, 2.0)]
    tracking.stage("2-panx", offset=10)
    tracking.on_selection({"step": 3, "score": 55.0, "oracle": {"de": 40.0}})
    assert recorder.logged[-1] == (13, {"2-panx/selection/score": 55.0, "2-panx/oracle/de": 40.0})


def test_tensorboard_event_files(run_tensorboard):
    out, results = run_tensorboard
    events = scalars(out / "tensorboard")
    assert {"train/loss", "train/learning_rate", "train/grad_norm", "selection/score", "eval/en", "eval/de",
            "eval/avg", "eval/avg_zero_shot"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == list(range(LOGGING_STEPS, STEPS + 1, LOGGING_STEPS))
    losses = [e.value for e in events.Scalars("train/loss")]
    assert all(0 < v < 10 for v in losses)
    history = results.stages[0]["history"]
    selection = events.Scalars("selection/score")
    assert [e.step for e in selection] == [h["step"] for h in history] == [3, 6]
    assert [e.value for e in selection] == pytest.approx([h["score"] for h in history])
    assert events.Scalars("eval/de")[0].value == pytest.approx(results.languages["de"].primary)
    assert events.Scalars("eval/avg_zero_shot")[0].value == pytest.approx(results.averages["zero_shot"])
    rates = [e.value for e in events.Scalars("train/learning_rate")]
    assert rates == sorted(rates, reverse=True) and rates[-1] == pytest.approx(0.0)  # linear decay to 0
    hparams = list((out / "tensorboard").glob("*/hparams.yml"))
    assert hparams and "learning_rate: 0.001" in hparams[0].read_text()


def test_pipeline_stages_log_on_one_step_axis(tiny_bert, sample_dir, tmp_path):
    from xling.training.pipeline import run_pipeline
    from xling.training.pipeline_config import PipelineConfig

    pytest.importorskip("tensorboard")
    cfg = PipelineConfig.of(model=str(tiny_bert), output_dir=str(tmp_path / "p"), languages=["en", "de"],
                            max_steps=4, eval_every=2, logging_steps=2, batch_size=8, learning_rate=1e-3,
                            max_train_examples=32, max_eval_examples=10, quiet=True, save_model=False,
                            oracle_selection=False, report_to=["tensorboard"],
                            task_defaults={"panx": {"data_dir": str(sample_dir["panx"])},
                                           "pawsx": {"data_dir": str(sample_dir["pawsx"])}},
                            stages=["panx"], target={"task": "pawsx"})
    results = run_pipeline(cfg)
    events = scalars(tmp_path / "p" / "tensorboard")
    assert [e.step for e in events.Scalars("1-panx/train/loss")] == [2, 4]
    assert [e.step for e in events.Scalars("2-pawsx/selection/score")] == [6, 8]  # after the 4 steps of stage 1
    assert events.Scalars("eval/de")[0].value == pytest.approx(results.languages["de"].primary)


@pytest.mark.slow
def test_mlflow_store_in_the_run_directory(run_all):
    from mlflow.tracking import MlflowClient

    out, results = run_all
    client = MlflowClient(tracking_uri=f"sqlite:///{out}/mlflow.db")
    (experiment,) = [e for e in client.search_experiments() if e.name == "xling"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "run" and run.info.status == "FINISHED"
    assert run.data.params["task"] == "panx" and run.data.params["max_steps"] == str(STEPS)
    assert run.data.metrics["eval/de"] == pytest.approx(results.languages["de"].primary)
    assert run.data.metrics["eval/avg"] == pytest.approx(results.averages["all"])
    losses = client.get_metric_history(run.info.run_id, "train/loss")
    assert [m.step for m in losses] == [2, 4, 6]
    scores = client.get_metric_history(run.info.run_id, "selection/score")
    assert [m.value for m in scores] == pytest.approx([h["score"] for h in results.stages[0]["history"]])
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
    assert artifacts == ["results.json"]
    # the artifact store is the run directory's, never ./mlruns in the working directory
    assert run.info.artifact_uri.startswith((out.resolve() / "mlartifacts").as_uri())
    artifact = Path(client.download_artifacts(run.info.run_id, "results.json", str(out / "downloaded")))
    assert json.loads(artifact.read_text())["languages"]["de"]["primary"] == results.languages["de"].primary


def wandb_records(path: Path) -> list:
    """The records of a W&B run file: a 7-byte header, then LevelDB log blocks of protobuf records."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pending, pos, block = [], b"", 7, 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        length, kind = struct.unpack("<HB", data[pos + 4:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0 and length == 0:
            continue
        pending += chunk
        if kind in (1, 4):  # a full record, or the last part of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


@pytest.mark.slow
def test_wandb_offline_run_files(run_all):
    out, results = run_all
    (run_file,) = (out / "wandb").glob("offline-run-*/run-*.wandb")
    records = wandb_records(run_file)
    history = []
    for record in records:
        if record.WhichOneof("record_type") == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in record.history.item})
    config = {item.key: json.loads(item.value_json) for r in records if r.WhichOneof("record_type") == "config"
              for item in r.config.update}
    assert config["task"] == "panx" and config["max_steps"] == STEPS
    logged = {key: [(h["_step"], h[key]) for h in history if key in h] for key in ("train/loss", "selection/score")}
    assert [step for step, _ in logged["train/loss"]] == [2, 4, 6]
    expected = [h["score"] for h in results.stages[0]["history"]]
    assert [v for _, v in logged["selection/score"]] == pytest.approx(expected)
    finals = [h for h in history if "eval/de" in h]
    assert finals and finals[-1]["eval/de"] == pytest.approx(results.languages["de"].primary)
    assert (run_file.parent / "files" / "results.json").is_file()


def test_missing_tracker_package_names_the_extra(tiny_bert, sample_dir, tmp_path, monkeypatch):
    import sys

    from xling.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb now raises ImportError
    with pytest.raises(MissingExtraError, match=r'--report-to wandb: wandb is not installed; run '
                                                r'pip install "xling\[trackers\]"'):
        tracked_run(tiny_bert, sample_dir["panx"], tmp_path / "run", ["wandb"])


def test_sweep_flag_and_pipeline_stages_check_the_trackers(tmp_path, capsys):
    from xling.cli import main
    from xling.training.pipeline_config import PipelineConfig

    spec = tmp_path / "s.yaml"
    spec.write_text("base: {task: panx, model: m}\ngrid: {learning_rate: [1e-3]}\n")
    args = ["sweep", str(spec), "--output-dir", str(tmp_path / "o"), "--report-to", "tensorbord", "--dry-run"]
    assert main(args) == 2
    assert "unknown tracker 'tensorbord'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="report_to.*can only be set for the whole pipeline"):
        PipelineConfig.of(model="m", stages=[{"task": "panx", "report_to": ["tensorboard"]}], target={"task": "xnli"})


def test_wandb_runs_offline_without_an_api_key(tmp_path, monkeypatch):
    from xling.training.trackers import _wandb_mode

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.delenv("NETRC", raising=False)
    for name in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert _wandb_mode() == "offline"
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password k3y\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert _wandb_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert _wandb_mode() == "disabled"
