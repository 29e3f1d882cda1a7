"""Experiment trackers (``--report-to tensorboard,mlflow,wandb``) through accelerate's tracker classes.

:class:`Tracking` is the one object a run hands to its training stages: the loop calls
:meth:`Tracking.on_step` after each optimiser step (training loss, learning rate and gradient norm
every ``--logging-steps``) and :meth:`Tracking.on_selection` at each evaluation point (the selection
score on the source dev set, oracle dev scores); at the end :meth:`Tracking.finish` logs the
per-language scores and averages and ``results.json`` as an artifact where the tracker keeps files.
The run's config is logged as hyper-parameters when tracking starts.

Everything works offline: TensorBoard event files go to ``RUN_DIR/tensorboard``; MLflow to
``sqlite:///RUN_DIR/mlflow.db`` (artifacts in ``RUN_DIR/mlartifacts``) unless ``MLFLOW_TRACKING_URI``
is set; W&B runs in ``RUN_DIR/wandb``, offline unless ``WANDB_MODE`` says otherwise or an API key is
configured (``WANDB_API_KEY``, or ``wandb login``). Only the main process logs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xling.errors import ConfigError
from xling.extras import require

log = logging.getLogger("xling")

TRACKERS = ("tensorboard", "mlflow", "wandb")
MODULES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}
PROJECT = "xling"  # the MLflow experiment and W&B project unless MLFLOW_EXPERIMENT_NAME / WANDB_PROJECT say


def parse_report_to(names: Iterable[str]) -> list[str]:
    """``["tensorboard", "mlflow"]`` from ``--report-to`` (``none`` or empty: no tracker); unknown names fail."""
    out: list[str] = []
    for name in (n.strip().lower() for n in names):
        if name in ("", "none"):
            continue
        if name not in TRACKERS:
            raise ConfigError(f"--report-to: unknown tracker {name!r}; choose from {', '.join(TRACKERS)} or none")
        if name not in out:
            out.append(name)
    return out


def hyperparameters(config: dict[str, Any]) -> dict[str, Any]:
    """The config as flat scalars (what every tracker's hyper-parameter API takes)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update({f"{key}.{k}": v for k, v in hyperparameters(value).items()})
        elif isinstance(value, (bool, int, float, str)):
            out[key] = value
        else:  # None, lists, empty mappings
            out[key] = str(value if not isinstance(value, (list, tuple)) else ",".join(map(str, value)))
    return out


def _wandb_mode() -> str:
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        import netrc

        if netrc.netrc().authenticators("api.wandb.ai"):
            return "online"
    except (OSError, netrc.NetrcParseError):
        pass
    return "offline"


def check_trackers(names: Iterable[str]) -> None:
    """Before a run starts: every tracker named is installed, else the ``pip install "xling[trackers]"`` to run."""
    for name in parse_report_to(names):
        require(MODULES[name], "trackers", f"--report-to {name}")


def make_tracker(name: str, run_dir: Path, run_name: str) -> Any:
    """One of accelerate's tracker objects, started, writing below ``run_dir`` unless the environment says where."""
    require(MODULES[name], "trackers", f"--report-to {name}")
    from accelerate.tracking import MLflowTracker, TensorBoardTracker, WandBTracker

    if name == "tensorboard":
        tracker = TensorBoardTracker("tensorboard", str(run_dir))
    elif name == "mlflow":
        import mlflow

        # read the user's URI before set_tracking_uri, which exports MLFLOW_TRACKING_URI itself: checked after
        # it, every run would take the store's default artifact root (./mlruns in the working directory)
        user_uri = os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(user_uri or f"sqlite:///{run_dir.resolve()}/mlflow.db")
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        tracker = MLflowTracker(experiment_name=PROJECT, run_name=run_name,
                                logging_dir=None if user_uri else (run_dir.resolve() / "mlartifacts").as_uri())
    else:
        os.environ.setdefault("WANDB_SILENT", "true")
        mode = _wandb_mode()
        if mode == "offline":
            log.info("W&B runs offline (no API key; set WANDB_MODE=online or run `wandb login`); "
                     "upload later with `wandb sync %s/wandb/offline-run-*`", run_dir)
        tracker = WandBTracker(os.environ.get("WANDB_PROJECT", PROJECT), dir=str(run_dir), name=run_name, mode=mode)
    tracker.start()
    return tracker


class Tracking:
    """The run's trackers; with none it does nothing. Steps count on across a pipeline's stages."""

    def __init__(self, trackers: list[Any], logging_steps: int = 50) -> None:
        self.trackers = trackers
        self.logging_steps = logging_steps
        self.offset = 0  # steps of the stages before this one
        self.prefix = ""
        self._loss = (0.0, 0.0)  # (loss_sum, loss_count) of the loop state at the last log

    def __bool__(self) -> bool:
        return bool(self.trackers)

    def log(self, values: dict[str, Any], step: int | None = None) -> None:
        values = {k: v for k, v in values.items() if v is not None}
        for tracker in self.trackers:
            tracker.log(values, step=step)

    def stage(self, name: str, offset: int) -> None:
        """A pipeline stage starts after ``offset`` steps; its values are logged under ``name/``."""
        self.offset, self.prefix, self._loss = offset, f"{name}/", (0.0, 0.0)

    def on_step(self, state: Any, learning_rate: float, grad_norm: float | None) -> None:
        """After an optimiser step: every ``logging_steps``, the mean training loss since the last log."""
        total, count = state.loss_sum, state.loss_count
        if count < self._loss[1]:  # the loop restarted its sums at an evaluation point
            self._loss = (0.0, 0.0)
        if not self.trackers or not self.logging_steps or state.step % self.logging_steps:
            return
        done, seen = total - self._loss[0], count - self._loss[1]
        self._loss = (total, count)
        self.log({f"{self.prefix}train/loss": done / seen if seen else None,
                  f"{self.prefix}train/learning_rate": learning_rate,
                  f"{self.prefix}train/grad_norm": None if grad_norm is None else float(grad_norm)},
                 step=self.offset + state.step)

    def on_selection(self, record: dict[str, Any]) -> None:
        """At an evaluation point: the selection score, each task's in a multi-task stage, the oracle dev scores."""
        self._loss = (0.0, 0.0)  # the loop has just restarted its loss sums
        values = {f"{self.prefix}selection/score": record["score"]}
        values.update({f"{self.prefix}selection/{task}": score for task, score in record.get("tasks", {}).items()})
        values.update({f"{self.prefix}oracle/{lang}": score for lang, score in record.get("oracle", {}).items()})
        self.log(values, step=self.offset + record["step"])

    def finish(self, results: Any, results_path: Path | None = None, step: int | None = None) -> None:
        """Per-language scores and averages; ``results.json`` as an artifact where the tracker keeps files."""
        values = {f"eval/{lang}": score.primary for lang, score in results.languages.items()}
        values["eval/avg"] = results.averages.get("all")
        values["eval/avg_zero_shot"] = results.averages.get("zero_shot")
        self.log(values, step=step)
        for tracker in self.trackers:
            if tracker.name == "wandb":
                tracker.run.summary.update({k: v for k, v in values.items() if v is not None})
            if results_path is None:
                continue
            if tracker.name == "mlflow":
                tracker.log_artifact(str(results_path))
            elif tracker.name == "wandb":
                tracker.run.save(str(results_path), base_path=str(results_path.parent), policy="now")
        self.close()

    def close(self) -> None:
        trackers, self.trackers = self.trackers, []
        for tracker in trackers:
            tracker.finish()

    def __enter__(self) -> "Tracking":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()  # a failed run still closes its trackers (what it logged stays)


def start_tracking(cfg: Any, run_dir: Path, config: dict[str, Any] | None = None) -> Tracking:
    """The trackers ``cfg.report_to`` names, started, with the config (``cfg.to_dict()``) as hyper-parameters."""
    from accelerate import PartialState

    names = parse_report_to(cfg.report_to)
    if not names or not PartialState().is_main_process:
        return Tracking([], cfg.logging_steps)
    run_dir = Path(run_dir)
    trackers = []
    try:
        for name in names:
            trackers.append(make_tracker(name, run_dir, run_dir.name))
        params = hyperparameters(config if config is not None else cfg.to_dict())
        for tracker in trackers:
            tracker.store_init_configuration(params)
    except BaseException:
        Tracking(trackers).close()
        raise
    return Tracking(trackers, cfg.logging_steps)
