"""Loading a task's data for a run, and turning it into batches.

- :mod:`~xling.data.files`: opening text files (gzip, line endings, BOM) and the labelled-or-not rule;
- :mod:`~xling.data.loading`: finding a split (file overrides, local layouts, the hub) and reading it with
  the reader of the task's kind;
- :mod:`~xling.data.examples`: :class:`SplitData`, one language's split;
- :mod:`~xling.data.run_data`: a run's training, selection, evaluation and oracle sets;
- :mod:`~xling.data.features`: dynamic padding (:class:`Collator`) and length-grouped batches;
- :mod:`~xling.data.multitask`: task samplers for multi-task stages;
- :mod:`~xling.data.images`: precomputed image feature files (image-text tasks).

The example types themselves belong to the task kinds (:mod:`xling.kinds`).
"""
