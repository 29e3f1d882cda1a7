"""The one training loop, for every task kind, on CPU, one GPU or many (``accelerate launch``).

It reads top to bottom: build the optimiser and schedule, restore a
checkpoint if resuming, then step through epochs of length-grouped batches,
evaluating for model selection and checkpointing on the way. Everything that
differs between tasks lives in the features and the heads, not here.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from xling.config import TrainConfig
from xling.data.features import feature_length, loss_weight
from xling.distributed import (ProcessBatches, agree, check_batch_split, start_processes, sum_over_processes,
                               sync_buffers)
from xling.errors import RunInterrupted
from xling.models.build import resolve_mixed_precision
from xling.training.averaging import drop_snapshots, load_average, save_snapshot
from xling.training.best import BEST_FILE, check_best, drop_previous, load_best, version_of, write_best
from xling.training.checkpoint import CHECKPOINT_DIR, register_frozen_hooks, resume_checkpoint, save_checkpoint
from xling.training.micro import forward_backward

__all__ = ["BEST_FILE", "CHECKPOINT_DIR", "Hooks", "LoopState", "RunInterrupted", "build_optimizer",
           "build_schedule", "count_steps", "train_loop"]


@dataclass
class LoopState:
    """Everything the loop needs to continue exactly where it stopped (saved in checkpoints)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    total_steps: int = 0
    best_score: float | None = None
    best_step: int | None = None
    best_version: str | None = None  # what best.safetensors holds (xling.training.best)
    history: list[dict[str, Any]] = field(default_factory=list)
    train_tokens: int = 0
    train_examples: int = 0
    train_seconds: float = 0.0
    selection_seconds: float = 0.0  # evaluating for selection and saving the best (not in train_seconds)
    loss_sum: float = 0.0  # loss terms (tokens, examples) since the last evaluation point, all processes
    loss_count: float = 0
    loss_ema: float | None = None
    finished: bool = False
    averaged: dict[str, Any] | None = None  # with average_checkpoints: what was averaged
    batches_per_epoch: int = 0  # global batches
    processes: int = 1

    @property
    def epochs_trained(self) -> float:
        return self.epoch + self.batch_in_epoch / max(1, self.batches_per_epoch)

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


@dataclass
class Hooks:
    """Named hooks the loop calls. ``evaluate(step) -> (selection score, details)``; ``on_log(record)`` after
    each evaluation point; ``on_step(state, learning rate, gradient norm or None)`` after each optimiser step
    (:class:`xling.training.trackers.Tracking` logs them)."""

    evaluate: Callable[[int], tuple[float, dict[str, Any]]]
    on_log: Callable[[dict[str, Any]], None] = lambda record: None
    on_step: Callable[["LoopState", float, Any], None] = lambda state, learning_rate, grad_norm: None


def count_steps(cfg: TrainConfig, batches_per_epoch: int) -> tuple[int, int]:
    """``(optimiser steps per epoch, total steps)``: ``max_steps``, else ``epochs`` (fractions round up)."""
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / cfg.gradient_accumulation))
    return steps_per_epoch, cfg.max_steps or max(1, math.ceil(steps_per_epoch * (cfg.epochs or 1)))


def build_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int) -> Any:
    """Linear warm-up over ``warmup_ratio`` of the steps, then linear decay to 0 at ``total_steps``."""
    from transformers import get_linear_schedule_with_warmup

    return get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with one learning rate per part (encoder, fusion, heads); no decay on biases and norms."""
    rates = {"encoder": cfg.learning_rate, "fusion": cfg.fusion_learning_rate,
             "heads": cfg.head_learning_rate or cfg.learning_rate}
    groups = []
    for part, params in model.parameter_groups().items():
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        for chosen, wd in ((decay, cfg.weight_decay), (no_decay, 0.0)):
            if chosen:
                groups.append({"params": chosen, "lr": rates[part], "weight_decay": wd, "name": part})
    return adamw(groups, fused=cfg.fused_optimizer)


def adamw(groups: list[dict[str, Any]], fused: bool = True) -> torch.optim.Optimizer:
    """AdamW as one fused kernel where torch has it for the parameters' device and dtype, else ``foreach``
    (one multi-tensor kernel per operation); the same update either way, within float rounding."""
    if fused and _fused_kernel_fits([p for g in groups for p in g["params"]]):
        return torch.optim.AdamW(groups, eps=1e-8, fused=True)
    return torch.optim.AdamW(groups, eps=1e-8, foreach=True)


def _fused_kernel_fits(params: list[torch.Tensor]) -> bool:
    try:
        from torch.optim.optimizer import _get_fused_kernels_supported_devices
    except ImportError:  # an older torch
        return False
    devices = _get_fused_kernels_supported_devices()
    return all(p.is_floating_point() and p.device.type in devices for p in params)


class _StopFlag:
    """First SIGINT / SIGTERM: finish the step, checkpoint, stop. Second SIGINT: stop at once."""

    def __init__(self) -> None:
        self.requested = False
        self.signum = signal.SIGINT
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_StopFlag":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested, self.signum = True, signum
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"\nxling: signal {signum} received; stopping after this step and saving a checkpoint",
                  flush=True)

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train_loop(
    model: torch.nn.Module,
    features: list[dict[str, Any]],
    batch_sampler: Any,
    cfg: TrainConfig,
    run_dir: Path,
    hooks: Hooks,
    *,
    collate: Callable[[list[dict[str, Any]]], dict[str, Any]],
    accelerator: Any = None,
) -> LoopState:
    """Train ``model`` on ``features`` (each carries its ``task``); select on ``hooks.evaluate``.

    ``batch_sampler`` gives the global batches (``cfg.batch_size``); with several processes each takes its
    part of every batch (:class:`~xling.distributed.ProcessBatches`), so that the steps, the schedule and
    the loss are those of one process. ``collate`` turns a list of features into a batch
    (:func:`xling.kinds.collator_for` the tasks' kinds).
    """
    accelerator = accelerator or make_accelerator(cfg, several_heads=len(getattr(model, "heads", ())) > 1)
    world = accelerator.num_processes
    check_batch_split(cfg.batch_size, world)
    parts = ProcessBatches(batch_sampler, [loss_weight(f) for f in features], [feature_length(f) for f in features],
                           rank=accelerator.process_index, world=world)
    # its own generator: starting an epoch's iterator would otherwise draw from the global RNG, and a resumed
    # run (which restores that RNG at the checkpoint, then starts an iterator) would get other dropout masks
    loader = DataLoader(features, batch_sampler=parts, collate_fn=collate, num_workers=cfg.num_workers,
                        generator=torch.Generator().manual_seed(cfg.seed))
    _, total_steps = count_steps(cfg, len(parts))
    optimizer = build_optimizer(model, cfg)
    scheduler = build_schedule(optimizer, cfg, total_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    register_frozen_hooks(accelerator)
    state = LoopState(total_steps=total_steps)
    accelerator.register_for_checkpointing(state)
    checkpoint = run_dir / CHECKPOINT_DIR
    if cfg.resume and resume_checkpoint(accelerator, run_dir) is not None:
        accelerator.load_state(str(checkpoint))
        accelerator.print(f"xling: resumed from {checkpoint} at step {state.step}/{total_steps}")
        if accelerator.is_main_process:
            check_best(run_dir, state.best_version, state.best_step)
    state.batches_per_epoch, state.processes = len(parts), world
    committed = [state.best_version]  # the best version the last checkpoint on disk records

    def checkpoint_now() -> None:
        save_checkpoint(accelerator, run_dir, state.step)
        committed[0] = state.best_version
    kill_after, kill_signal = _test_kill()

    def select() -> None:
        began = time.perf_counter()
        sync_buffers(model)  # batch-norm statistics: the main process's, as in the checkpoint
        score, details = hooks.evaluate(state.step)
        loss_sum, loss_count = sum_over_processes(state.loss_sum, state.loss_count)
        state.loss_sum, state.loss_count = 0.0, 0
        record = {"step": state.step, "epoch": state.epoch, "learning_rate": scheduler.get_last_lr()[0],
                  "train_loss": loss_sum / max(1e-12, loss_count), "score": score, **details}
        state.history.append(record)
        if state.best_score is None or score > state.best_score:
            state.best_score, state.best_step = score, state.step
            state.best_version = version_of(state.step)
            save_best(accelerator, model, run_dir, state.best_version, committed[0])
        if cfg.average_checkpoints:
            save_snapshot(accelerator, model, run_dir, [h["step"] for h in state.history], cfg.average_checkpoints)
        state.selection_seconds += time.perf_counter() - began
        hooks.on_log(record)

    bar = tqdm(total=total_steps, initial=state.step, desc="train", unit="step", dynamic_ncols=True,
               disable=cfg.quiet or not accelerator.is_main_process)
    last_checkpoint = time.monotonic()
    model.train()
    with _StopFlag() as stop:
        while state.step < total_steps:
            parts.set_epoch(state.epoch)
            shares = parts.shares()
            parts.skip = state.batch_in_epoch  # a resumed epoch: its first batches are done
            started = time.perf_counter()
            for batch in loader:
                index = state.batch_in_epoch
                group = range(index - index % cfg.gradient_accumulation,
                              min(index - index % cfg.gradient_accumulation + cfg.gradient_accumulation, len(shares)))
                share, last = shares[index], index == group[-1]
                # the loss of the whole step (its micro-batches on every process): each part's mean loss weighted
                # by its share of the step's loss terms; DDP averages over processes, hence the factor world
                step_weight = sum(shares[i].batch_weight for i in group)
                scale = share.weight / step_weight * world if step_weight else 0.0
                inputs = {k: v.to(accelerator.device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
                batch_loss = forward_backward(model, inputs, batch["task"][0], accelerator, cfg.max_tokens_per_batch,
                                              scale=scale, sync=last)
                state.batch_in_epoch += 1
                state.train_tokens += share.tokens
                state.train_examples += share.examples
                loss = float(batch_loss)
                state.loss_ema = loss if state.loss_ema is None else 0.98 * state.loss_ema + 0.02 * loss
                state.loss_sum += loss * share.weight
                state.loss_count += share.weight
                if not last:
                    continue
                grad_norm = None
                if cfg.max_grad_norm > 0:
                    grad_norm = accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                state.step += 1
                if kill_after and state.step == kill_after and kill_signal != signal.SIGKILL:
                    os.kill(os.getpid(), kill_signal)  # a stop request: handled below like a real one
                hooks.on_step(state, scheduler.get_last_lr()[0], grad_norm)
                elapsed = state.train_seconds + time.perf_counter() - started
                bar.update(1)
                bar.set_postfix(loss=f"{state.loss_ema:.4f}", lr=f"{scheduler.get_last_lr()[0]:.1e}",
                                tok_s=f"{state.train_tokens / max(elapsed, 1e-9):.0f}", refresh=False)
                if cfg.eval_every and state.step % cfg.eval_every == 0:
                    state.train_seconds += time.perf_counter() - started
                    select()
                    started = time.perf_counter()
                # every process decides alike (a signal or the clock may reach one process first)
                stopping, late = agree(stop.requested, time.monotonic() - last_checkpoint > 60 * cfg.checkpoint_minutes)
                if stopping or late or (cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0):
                    state.train_seconds += time.perf_counter() - started
                    checkpoint_now()
                    started, last_checkpoint = time.perf_counter(), time.monotonic()
                if kill_after and state.step == kill_after and kill_signal == signal.SIGKILL:
                    os.kill(os.getpid(), kill_signal)  # kill -9 right after any checkpoint of this step
                if stopping:
                    bar.close()
                    raise RunInterrupted(f"stopped at step {state.step}/{total_steps}; checkpoint saved in "
                                         f"{checkpoint}; continue with the same command and --resume", stop.signum)
                if state.step >= total_steps:
                    break
            else:
                state.epoch += 1
                state.batch_in_epoch = 0
            state.train_seconds += time.perf_counter() - started
            # without --eval-every: select at every epoch end; always at the very end
            if (not cfg.eval_every or state.step >= total_steps) and not _evaluated_at(state, state.step):
                select()
            checkpoint_now()
            last_checkpoint = time.monotonic()
    bar.close()
    state.finished = True
    if cfg.average_checkpoints and state.averaged is None:  # the average takes the best checkpoint's place
        steps = [h["step"] for h in state.history]
        state.averaged = load_average(accelerator, model, run_dir, steps, cfg.average_checkpoints, hooks.evaluate)
        state.best_version = version_of(state.step, state.averaged)
        save_best(accelerator, model, run_dir, state.best_version, committed[0])
        checkpoint_now()
    drop_snapshots(accelerator, run_dir)
    # the model holds the best already when it was selected at the last step, or is the average
    if state.averaged is None and state.best_step != state.step:
        restore_best(accelerator, model, run_dir, state.best_version)
    if accelerator.is_main_process:
        drop_previous(run_dir)
    return state


def make_accelerator(cfg: TrainConfig, several_heads: bool = False) -> Any:
    """The run's Accelerator. The loop accumulates and scales the loss itself (one global batch per step), so
    accelerate neither divides the loss nor steps the schedule once per process (``split_batches``). With
    several heads, a batch (of one task) leaves the others' parameters unused, which DDP must expect."""
    from accelerate import Accelerator, DataLoaderConfiguration
    from accelerate.utils import DistributedDataParallelKwargs

    start_processes()
    return Accelerator(mixed_precision=resolve_mixed_precision(cfg.mixed_precision),
                       dataloader_config=DataLoaderConfiguration(split_batches=True),
                       kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=several_heads)])


def _test_kill() -> tuple[int, int]:
    """For the tests: ``XLING_TEST_KILL_AFTER_STEP=N[:SIGNAL]`` sends the process SIGNAL (default KILL) at step N."""
    step, _, name = os.environ.get("XLING_TEST_KILL_AFTER_STEP", "0").partition(":")
    return int(step), int(getattr(signal, "SIG" + name.upper().removeprefix("SIG"))) if name else signal.SIGKILL


def _evaluated_at(state: LoopState, step: int) -> bool:
    return bool(state.history) and state.history[-1]["step"] == step


def save_best(accelerator: Any, model: torch.nn.Module, run_dir: Path, version: str,
              committed: str | None = None) -> None:
    """Write the trainable weights as ``best.safetensors``, tagged ``version`` (:mod:`xling.training.best`)."""
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_best(accelerator.unwrap_model(model), run_dir, version, committed)


def restore_best(accelerator: Any, model: torch.nn.Module, run_dir: Path, version: str | None = None) -> None:
    """Load ``best.safetensors`` into the model in place (it must hold ``version`` when given)."""
    accelerator.wait_for_everyone()
    load_best(accelerator.unwrap_model(model), run_dir, version)
