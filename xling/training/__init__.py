"""Training: the one loop, a run's stages, pipelines of stages, checkpoint averaging.

- :mod:`~xling.training.loop`: the training loop (optimiser, schedule, accumulation, checkpoints, resume);
- :mod:`~xling.training.rundir`: the run directory (what a run writes, refusing to clobber, resuming);
- :mod:`~xling.training.stage`: one training stage of one or several tasks, with model selection;
- :mod:`~xling.training.run`: ``xling train``, a short top-to-bottom recipe;
- :mod:`~xling.training.pipeline_config` / :mod:`~xling.training.pipeline`: ``xling pipeline``;
- :mod:`~xling.training.averaging`: weight averaging (checkpoints of a run, ensembles of runs).
"""
