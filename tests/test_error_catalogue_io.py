"""The error catalogue (issue 11), part 3: models, output folders, faults (full disk), locks, --overwrite.

See ``tests/test_error_catalogue.py`` for what a case is and the counts before and after. Cases with
``expect="ok"`` are inputs that must work (a second evaluation beside the first, a stale lock file): their
``after`` check finds the data loss or leftovers of today's code.
"""

from __future__ import annotations

import errno
import fcntl
import pathlib
import shutil

import pytest

from tests.catalogue import (  # noqa: F401
    RANDOM, Case, assert_expected, catalogue_data, copy_run, env, finished_run, invoke, model_copy, old_run_intact,
    pipeline, read_only, remove_files, train, truncate, write_file)


# ---------------------------------------------------------------- --model


def model_cases(command, make):
    def with_model(path):
        return lambda e: make(e, path(e))

    def local(e):
        return e.tmp / "m"
    return [
        Case(f"{command}-model-empty-dir", with_model(local), ("{env.tmp}/m", "empty"),
             setup=lambda e: (e.tmp / "m").mkdir()),
        Case(f"{command}-model-missing-path", with_model(lambda e: e.tmp / "nope"),
             ("{env.tmp}/nope", "does not exist", "org/name")),
        Case(f"{command}-model-a-file", with_model(lambda e: e.tmp / "m" / "config.json"), ("config.json", "a file"),
             setup=model_copy(lambda m: None)),
        Case(f"{command}-model-broken-config", with_model(local), ("config.json", "JSON"),
             setup=model_copy(write_file("config.json", '{"model_type": "bert",'))),
        Case(f"{command}-model-truncated-safetensors", with_model(local), ("{env.tmp}/m", "cannot load"),
             setup=model_copy(truncate("model.safetensors"))),
        Case(f"{command}-model-random-safetensors", with_model(local), ("{env.tmp}/m", "cannot load"),
             setup=model_copy(write_file("model.safetensors", RANDOM))),
    ]


def _train_with(e, model):
    argv = train(e)
    argv[argv.index("--model") + 1] = model
    return argv


def _pipeline_with(e, model):
    argv = pipeline(e)
    argv[argv.index("--model") + 1] = model
    return argv


CASES = model_cases("train", _train_with) + model_cases("pipeline", _pipeline_with)
CASES += [
    Case("train-model-missing-relative", lambda e: _train_with(e, "./no-such-model"), ("./no-such-model", "does not exist")),
    Case("train-model-missing-hub-name", lambda e: _train_with(e, "nobody-xyz/no-such-model"),
         ("nobody-xyz/no-such-model",)),
    Case("train-model-config-no-type", lambda e: _train_with(e, e.tmp / "m"), ("config.json", "model_type"),
         setup=model_copy(write_file("config.json", "{}"))),
    Case("train-model-config-a-list", lambda e: _train_with(e, e.tmp / "m"), ("config.json",),
         setup=model_copy(write_file("config.json", "[]"))),
    Case("train-model-config-unknown-type", lambda e: _train_with(e, e.tmp / "m"), ("{env.tmp}/m", "nonsense"),
         setup=model_copy(write_file("config.json", '{"model_type": "nonsense"}'))),
    Case("train-model-no-weights", lambda e: _train_with(e, e.tmp / "m"), ("{env.tmp}/m",),
         setup=model_copy(remove_files("model.safetensors", "*.bin"))),
    Case("train-model-no-tokenizer", lambda e: _train_with(e, e.tmp / "m"), ("{env.tmp}/m",),
         setup=model_copy(remove_files("tokenizer*", "vocab*", "special_tokens_map.json", "*.model"))),
]


# ---------------------------------------------------------------- output folders and full disks


def _no_space(*_, **__):
    raise OSError(errno.ENOSPC, "No space left on device")


def _partial_then(exc):
    """A writer that leaves half a file behind, then fails as a full disk does."""
    def write(obj, f, *args, **kwargs):
        target = f if isinstance(f, (str, pathlib.Path)) else None
        if target is not None:
            pathlib.Path(target).write_bytes(b"\0" * 1000)
        raise exc
    return write


ZIP_WRITER = RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file "
                          "data/0: file write failed")


def _patch_torch_save(exc):
    def patch(e, mp):
        import torch

        mp.setattr(torch, "save", _partial_then(exc))
    return patch


def _patch_safetensors(e, mp):
    import safetensors.torch

    mp.setattr(safetensors.torch, "save_file", _partial_then(OSError(errno.ENOSPC, "No space left on device")))


def _patch_results(e, mp):
    original = pathlib.Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name == "results.tmp":
            original(self, "{\"sch")
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return original(self, *args, **kwargs)
    mp.setattr(pathlib.Path, "write_text", write_text)


def _patch_save_pretrained(e, mp):
    from transformers import PreTrainedModel

    mp.setattr(PreTrainedModel, "save_pretrained", _no_space)


def _clean(names=("checkpoint.tmp", "best.safetensors.tmp", "results.tmp", "config.yaml", "checkpoint")):
    """After a failed fresh run: nothing it wrote is left (no partial files, nothing that blocks a rerun)."""
    def after(e, outcome):
        run = e.tmp / "run"
        left = [n for n in names if (run / n).exists()] + (["model"] if (run / "model").exists() else [])
        if left:
            return "data_loss", f"left behind in the run folder: {left}"
        return None
    return after


def _mk(name):
    return lambda e: (e.tmp / name).mkdir()


CASES += [
    Case("out-read-only-parent", lambda e: train(e, out="ro/run"), ("ro/run", "Permission denied"),
         setup=_mk("ro"), patch=read_only("ro")),
    Case("out-read-only-folder", lambda e: train(e, out="ro"), ("ro", "Permission denied"),
         setup=_mk("ro"), patch=read_only("ro")),
    Case("out-is-a-file", lambda e: train(e, out="f"), ("f", "not a directory"),
         setup=lambda e: (e.tmp / "f").write_text("x")),
    Case("disk-full-checkpoint-oserror", lambda e: train(e), ("No space left",),
         patch=_patch_torch_save(OSError(errno.ENOSPC, "No space left on device")), after=_clean()),
    Case("disk-full-checkpoint-zip-writer", lambda e: train(e), ("write failed", "disk"),
         patch=_patch_torch_save(ZIP_WRITER), after=_clean()),
    Case("disk-full-best-model", lambda e: train(e), ("No space left",), patch=_patch_safetensors, after=_clean()),
    Case("disk-full-results", lambda e: train(e), ("results.tmp", "No space left"), patch=_patch_results,
         after=_clean()),
    Case("disk-full-saving-model", lambda e: train(e), ("No space left",), patch=_patch_save_pretrained,
         after=_clean()),
    Case("pipeline-disk-full-checkpoint", lambda e: pipeline(e), ("No space left",),
         patch=_patch_torch_save(OSError(errno.ENOSPC, "No space left on device")),
         after=_clean(("checkpoint.tmp", "pipeline.yaml", "stages"))),
]


# ---------------------------------------------------------------- concurrent runs, failed runs


def _hold_lock(e):
    """Another process's run holds the folder (flock is per open file, so this process can stand in)."""
    (e.tmp / "run").mkdir(exist_ok=True)
    handle = open(e.tmp / "run" / ".xling.lock", "a+")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write("4242\n")
    handle.flush()
    e.extra["lock"] = handle


def _no_second_run(e, outcome):
    e.extra.pop("lock").close()
    if outcome.rc == 0 or (e.tmp / "run" / "config.yaml").exists():
        return "silent", "a second run wrote into a folder another run holds"
    return None


def _stale_lock(e):
    (e.tmp / "run").mkdir()
    (e.tmp / "run" / ".xling.lock").write_text("999999\n")


def _rerun_works(argv_of):
    def after(e, outcome):
        leftover = _clean()(e, outcome)
        if leftover:
            return leftover
        again = invoke(argv_of(e))
        if again.rc != 0:
            return "silent", f"the failed run blocks a rerun: {again.stderr.strip().splitlines()[-1:]}"
        return None
    return after


def _bad_train_file(e):
    shutil.copytree(e.panx, e.tmp / "data")
    (e.tmp / "data" / "train-en.tsv").write_bytes(b"Anna\tB-PER\nM\xfcller\tB-PER\n")


CASES += [
    Case("concurrent-train", lambda e: train(e), ("in use by another xling run", "4242"), setup=_hold_lock,
         after=_no_second_run),
    Case("concurrent-pipeline", lambda e: pipeline(e), ("in use by another xling run",), setup=_hold_lock,
         after=_no_second_run),
    Case("concurrent-overwrite", lambda e: train(e, "--overwrite"), ("in use by another xling run",),
         setup=_hold_lock, after=_no_second_run),
    Case("stale-lock-file", lambda e: train(e), expect="ok", setup=_stale_lock),
    Case("failed-run-leaves-nothing", lambda e: train(e, "--data-dir", e.tmp / "data"), ("train-en.tsv:2",),
         setup=_bad_train_file, after=_rerun_works(lambda e: train(e))),
    Case("failed-run-bad-model-leaves-nothing", lambda e: _train_with(e, e.tmp / "m"), ("{env.tmp}/m",),
         setup=model_copy(truncate("model.safetensors")), after=_rerun_works(lambda e: train(e))),
    Case("failed-pipeline-leaves-nothing", lambda e: pipeline(e, "--data-dir", e.tmp / "data"), ("train-en.tsv:2",),
         setup=_bad_train_file, after=_rerun_works(lambda e: pipeline(e))),
]


# ---------------------------------------------------------------- --overwrite keeps the old run until the new one is done


def _missing_test(e):
    copy_run(e)
    shutil.copytree(e.panx, e.tmp / "data")
    (e.tmp / "data" / "test-de.tsv").unlink()
    (e.tmp / "data" / "dev-de.tsv").unlink()


CASES += [
    Case("overwrite-bad-model-path", lambda e: _train_with(e, e.tmp / "nope") + ["--overwrite"], ("nope",),
         setup=copy_run, after=old_run_intact),
    Case("overwrite-bad-data", lambda e: train(e, "--overwrite", "--data-dir", e.tmp / "data"), ("train-en.tsv:2",),
         setup=lambda e: (copy_run(e), _bad_train_file(e)), after=old_run_intact),
    Case("overwrite-missing-test-data", lambda e: train(e, "--overwrite", "--data-dir", e.tmp / "data"), ("'de'",),
         setup=_missing_test, after=old_run_intact),
    Case("overwrite-disk-full", lambda e: train(e, "--overwrite"), ("No space left",), setup=copy_run,
         patch=_patch_torch_save(OSError(errno.ENOSPC, "No space left on device")), after=old_run_intact),
    Case("overwrite-disk-full-results", lambda e: train(e, "--overwrite"), ("No space left",), setup=copy_run,
         patch=_patch_results, after=old_run_intact),
    Case("overwrite-corrupt-model", lambda e: _train_with(e, e.tmp / "m") + ["--overwrite"], ("{env.tmp}/m",),
         setup=lambda e: (copy_run(e), model_copy(write_file("model.safetensors", RANDOM))(e)), after=old_run_intact),
    Case("pipeline-overwrite-bad-model", lambda e: _pipeline_with(e, e.tmp / "nope") + ["--overwrite"], ("nope",),
         setup=copy_run, after=old_run_intact),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_faults_and_outputs(case, env, finished_run, monkeypatch):  # noqa: F811
    env.run = finished_run
    assert_expected(case, env, monkeypatch)
