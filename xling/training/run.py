"""``xling train``: train on the source language, select on its dev set, score every target language.

:func:`run_training` reads top to bottom; each step is a piece that pipelines reuse: the run directory
(:mod:`~xling.training.rundir`), the data (:mod:`xling.data.run_data`), the model
(:mod:`xling.models.build`), the stage (:mod:`~xling.training.stage`), the evaluation
(:mod:`xling.evaluation.evaluator`) and the results (:mod:`xling.reporting.results`).
"""

from __future__ import annotations

from xling.config import TrainConfig, save_yaml
from xling.data.run_data import load_oracle_sets, load_targets, load_training, resolve_task
from xling.distributed import check_batch_split, main_context, on_main, start_processes
from xling.errors import MissingDataError
from xling.evaluation.evaluator import evaluate_targets
from xling.models.build import build_run_model, check_sequence_length, head_spec, load_tokenizer
from xling.models.encoder import check_model_source
from xling.reporting.results import Results, peak_rss_mb, run_results
from xling.training.rundir import finish_run, run_directory
from xling.training.stage import stage_warnings, train_stage
from xling.training.trackers import check_trackers, start_tracking


def run_training(cfg: TrainConfig) -> Results:
    """``xling train``: train, select on English dev, evaluate zero-shot, write ``results.json``."""
    cfg.require("task", "model", "output_dir")
    check_batch_split(cfg.batch_size)  # before anything starts
    start_processes()  # under torchrun / accelerate launch: only the main process holds the run directory
    check_trackers(cfg.report_to)
    task = resolve_task(cfg)
    head_spec(task, cfg)  # a task without a trainable head (retrieval) says so before any directory is made
    cfg = cfg.with_task_defaults(task).with_absolute_paths()  # config.yaml works from anywhere, after a move
    check_model_source(cfg.model)  # before any directory is made
    with main_context(lambda: run_directory(cfg)) as run_dir:  # locked; a failed run leaves nothing behind
        return _train(task, cfg, run_dir)


def _train(task, cfg: TrainConfig, run_dir) -> Results:
    from accelerate.utils import set_seed

    on_main(lambda: save_yaml(cfg, run_dir / "config.yaml"))
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.model)
    check_sequence_length(tokenizer, cfg.max_seq_length, cfg.model)
    training = load_training(task, cfg)
    targets, notes, warnings = load_targets(task, cfg, training)
    if not targets:
        raise MissingDataError(f"no language of {task.name} has evaluation data; nothing to score")
    oracle_sets = load_oracle_sets(task, cfg, targets, training, warnings) if cfg.oracle_selection else {}
    model = build_run_model(task, cfg)  # on the CPU: the training loop's Accelerator puts it on this process's device
    with start_tracking(cfg, run_dir) as tracking:
        stage = train_stage(model, tokenizer, task, cfg, run_dir, training, oracle_sets, tracking)
        rss_after_train = peak_rss_mb()
        scores, eval_timings = evaluate_targets(model, tokenizer, task, cfg, targets, notes, run_dir / "predictions")
        results = run_results(task, cfg, model, scores, training.train.lang, stages=[stage],
                              warnings=warnings + stage_warnings([stage]),
                              run_dir=str(run_dir), timings={**stage["timings"], **eval_timings,
                                                             "peak_rss_mb_train": rss_after_train},
                              data=[use.record() for use in training.uses()])
        on_main(lambda: finish_run(model, tokenizer, cfg, run_dir, results))
        tracking.finish(results, run_dir / "results.json", step=stage["steps"])
    return results

