"""The error catalogue (issue 11), part 1: option values, for train, pipeline and evaluate.

Every bad input of a new user, and every injected fault, is a case here or in the other
``test_error_catalogue_*.py`` files; each must end in a clear one-line error (exit code 2, the message names
the file, line or value, no traceback) or, where a warning is right, a warning. ``tests/catalogue.py`` runs a
case in-process through ``xling.cli.main`` and classifies its outcome.

Counts over the whole catalogue (212 cases; ``XLING_CATALOGUE_OUT=/tmp/c.jsonl pytest tests/test_error_catalogue*.py``,
then ``python -m tests.catalogue /tmp/c.jsonl``), in the issue's four classes (a "clear error" is an error
without a traceback, or the warning a case expects; "worked" are inputs that must simply work):

* before, on main at 5b680bc (the test files copied onto that tree): clear error 83 (70 precise, 8 vague,
  5 warnings), traceback 68, silent-wrong 54, data loss 6, worked 1;
* after (this branch): clear error 208 (201 precise, 7 warnings), traceback 0, silent-wrong 0, data loss 0,
  worked 4.
"""

from __future__ import annotations

import pytest

from tests.catalogue import Case, assert_expected, catalogue_data, env, pipeline, train  # noqa: F401

# (id, flags, what the message names): genuine distinct values a user may type
BAD_VALUES = [
    ("epochs-nan", ["--epochs", "nan"], ("epochs", "nan")),
    ("epochs-inf", ["--epochs", "inf"], ("epochs", "inf")),
    ("epochs-negative", ["--epochs", "-1"], ("epochs", "-1")),
    ("epochs-zero", ["--epochs", "0"], ("epochs", "0")),
    ("epochs-word", ["--epochs", "three"], ("epochs", "three")),
    ("dropout-2", ["--dropout", "2"], ("dropout", "2")),
    ("dropout-1", ["--dropout", "1"], ("dropout", "1")),
    ("dropout-negative", ["--dropout", "-0.1"], ("dropout", "-0.1")),
    ("dropout-nan", ["--dropout", "nan"], ("dropout", "nan")),
    ("seed-negative", ["--seed", "-1"], ("seed", "-1")),
    ("seed-2-32", ["--seed", "4294967296"], ("seed", "4294967296")),
    ("lr-zero", ["--learning-rate", "0"], ("learning_rate", "0")),
    ("lr-negative", ["--learning-rate=-2e-5"], ("learning_rate", "-2e-05")),
    ("lr-nan", ["--learning-rate", "nan"], ("learning_rate", "nan")),
    ("lr-inf", ["--learning-rate", "inf"], ("learning_rate", "inf")),
    ("fusion-lr-zero", ["--fusion-learning-rate", "0"], ("fusion_learning_rate", "0")),
    ("head-lr-negative", ["--head-learning-rate", "-1"], ("head_learning_rate", "-1")),
    ("weight-decay-negative", ["--weight-decay", "-0.01"], ("weight_decay", "-0.01")),
    ("weight-decay-nan", ["--weight-decay", "nan"], ("weight_decay", "nan")),
    ("max-seq-length-2", ["--max-seq-length", "2"], ("max_seq_length", "2")),
    ("max-seq-length-1", ["--max-seq-length", "1"], ("max_seq_length", "1")),
    ("max-seq-length-0", ["--max-seq-length", "0"], ("max_seq_length", "0")),
    ("max-grad-norm-negative", ["--max-grad-norm", "-1"], ("max_grad_norm", "-1")),
    ("max-grad-norm-nan", ["--max-grad-norm", "nan"], ("max_grad_norm", "nan")),
    ("warmup-1", ["--warmup-ratio", "1"], ("warmup_ratio", "1")),
    ("warmup-negative", ["--warmup-ratio", "-0.1"], ("warmup_ratio", "-0.1")),
    ("batch-size-0", ["--batch-size", "0"], ("batch_size", "0")),
    ("accumulation-0", ["--gradient-accumulation", "0"], ("gradient_accumulation", "0")),
    ("eval-batch-size-0", ["--eval-batch-size", "0"], ("eval_batch_size", "0")),
    ("max-steps-0", ["--max-steps", "0"], ("max_steps", "0")),
    ("eval-every-0", ["--eval-every", "0"], ("eval_every", "0")),
    ("checkpoint-every-0", ["--checkpoint-every", "0"], ("checkpoint_every", "0")),
    ("checkpoint-minutes-negative", ["--checkpoint-minutes", "-5"], ("checkpoint_minutes", "-5")),
    ("checkpoint-minutes-nan", ["--checkpoint-minutes", "nan"], ("checkpoint_minutes", "nan")),
    ("max-train-examples-0", ["--max-train-examples", "0"], ("max_train_examples", "0")),
    ("max-oracle-examples-0", ["--max-oracle-examples", "0"], ("max_oracle_examples", "0")),
    ("num-workers-negative", ["--num-workers", "-1"], ("num_workers", "-1")),
    ("selection-holdout-negative", ["--selection-holdout", "-3"], ("selection_holdout",)),
    ("average-checkpoints-negative", ["--average-checkpoints", "-1"], ("average_checkpoints",)),
    ("mixed-precision-fp8", ["--mixed-precision", "fp8"], ("mixed_precision", "fp8")),
    ("pooling-max", ["--pooling", "max"], ("pooling", "max")),
    ("missing-languages-ignore", ["--missing-languages", "ignore"], ("missing_languages", "ignore")),
    ("source-web", ["--source", "web"], ("source", "web")),
    ("eval-split-unknown", ["--eval-split", "tset"], ("eval_split", "tset")),
    ("dev-split-unknown", ["--dev-split", "devel"], ("dev_split", "devel")),
    ("train-split-unknown", ["--train-split", "trian"], ("train_split", "trian")),
    ("fallback-split-unknown", ["--fallback-split", "dve"], ("fallback_split", "dve")),
    ("fusion-unknown", ["--fusion", "attention"], ("fusion", "attention")),
    ("fusion-layer-out-of-range", ["--fusion", "aif", "--fusion-layer", "9"], ("fusion layer 9",)),
    ("fusion-option-reduction-0", ["--fusion", "aif", "--fusion-option", "reduction=0"], ("reduction", "0")),
    ("fusion-option-norm-unknown", ["--fusion", "aif", "--fusion-option", "norm=group"], ("norm", "group")),
    ("fusion-option-unknown-key", ["--fusion", "aif", "--fusion-option", "depth=2"], ("depth",)),
    ("fusion-option-no-equals", ["--fusion-option", "reduction"], ("--fusion-option", "reduction")),
    ("file-no-equals", ["--file", "de:test"], ("--file", "de:test")),
    ("task-unknown", ["--task", "pnax"], ("pnax",)),
]

# the same values reach a pipeline through its shared options: the ones that are checked apart from train's
PIPELINE_VALUES = ["epochs-nan", "epochs-inf", "dropout-2", "seed-negative", "seed-2-32", "lr-zero", "lr-negative",
                   "weight-decay-negative", "max-seq-length-2", "max-grad-norm-nan", "eval-split-unknown",
                   "num-workers-negative", "checkpoint-minutes-nan", "fusion-option-unknown-key"]


def _train_case(name, flags, says) -> Case:
    return Case(f"train-{name}", lambda e, f=flags: train(e, *f), says)


CASES = [_train_case(*row).param() for row in BAD_VALUES]
CASES += [Case(f"pipeline-{name}", lambda e, f=flags: pipeline(e, *f), says).param()
          for name, flags, says in BAD_VALUES if name in PIPELINE_VALUES]


def _yaml(text: str):
    def setup(e):
        (e.tmp / "run.yaml").write_text(text, encoding="utf-8")
    return setup


def _with_config(e):
    return train(e, "--config", e.tmp / "run.yaml")


CASES += [
    Case("yaml-epochs-nan", _with_config, ("epochs", "nan"), setup=_yaml("epochs: .nan\n")).param(),
    Case("yaml-dropout-string", _with_config, ("dropout", "high"), setup=_yaml("dropout: high\n")).param(),
    Case("yaml-unknown-key", _with_config, ("learnig_rate", "learning_rate"), setup=_yaml("learnig_rate: 1e-3\n")).param(),
    Case("yaml-a-list", _with_config, ("run.yaml", "mapping"), setup=_yaml("- epochs: 3\n")).param(),
    Case("yaml-invalid", _with_config, ("run.yaml", "YAML"), setup=_yaml("epochs: [3\n")).param(),
    Case("yaml-missing", lambda e: train(e, "--config", e.tmp / "nope.yaml"), ("nope.yaml", "does not exist")).param(),
    Case("yaml-languages-number", _with_config, ("languages",), setup=_yaml("languages: 3\n")).param(),
]

EVALUATE_VALUES = [
    ("eval-batch-size-0", ["--eval-batch-size", "0"], ("eval_batch_size", "0")),
    ("max-eval-examples-0", ["--max-eval-examples", "0"], ("max_eval_examples", "0")),
    ("eval-split-unknown", ["--eval-split", "tset"], ("eval_split", "tset")),
    ("fallback-split-unknown", ["--fallback-split", "dve"], ("fallback_split", "dve")),
    ("missing-languages-x", ["--missing-languages", "maybe"], ("missing_languages", "maybe")),
    ("source-web", ["--source", "web"], ("source", "web")),
    ("task-unknown", ["--task", "pnax"], ("pnax",)),
    ("language-without-data", ["--languages", "sw"], ("sw",)),
]
CASES += [Case(f"evaluate-{name}", lambda e, f=flags: ["evaluate", "--run", e.run, "--quiet", *f], says).param()
          for name, flags, says in EVALUATE_VALUES]


@pytest.fixture(scope="module")
def finished_run(tiny_bert, catalogue_data, tmp_path_factory):
    from tests.catalogue import Env, invoke

    e = Env(tmp_path_factory.mktemp("catalogue-run"), tiny_bert, catalogue_data["panx"], catalogue_data["pawsx"])
    result = invoke(train(e))
    assert result.rc == 0, result.stderr + (result.error or "")
    return e.tmp / "run"


@pytest.mark.parametrize("case", CASES)
def test_option_values(case, env, request, monkeypatch):  # noqa: F811
    if case.id.startswith("evaluate-"):
        env.run = request.getfixturevalue("finished_run")
    assert_expected(case, env, monkeypatch)
