"""Evaluation: scoring a model per language, re-scoring saved runs, ensembles of runs.

- :mod:`~xling.evaluation.evaluator`: predict, assemble, decode and score one language's split with its
  task kind; every target language of a run; ``predictions/{lang}.jsonl``;
- :mod:`~xling.evaluation.reevaluate`: ``xling evaluate`` (a saved run on other languages, data or tasks);
- :mod:`~xling.evaluation.ensemble`: ``xling ensemble`` (probabilities, votes, weights).

Decoding and metrics belong to the task kinds (:mod:`xling.kinds`) and :mod:`xling.metrics`.
"""
