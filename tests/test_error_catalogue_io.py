"""The error catalogue (issue 11), part 3: models, output folders, faults (full disk), locks, data loss,
``xling evaluate`` and ``xling report``.

See ``tests/test_error_catalogue.py`` for what a case is and the counts before and after. Cases with
``expect="ok"`` are inputs that must work (a second evaluation beside the first, a stale lock file): their
``after`` check finds the data loss or leftovers of today's code.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import pathlib
import random
import shutil

import pytest

from tests.catalogue import Case, Env, assert_expected, catalogue_data, env, invoke, pipeline, train  # noqa: F401


@pytest.fixture(scope="module")
def finished_run(tiny_bert, catalogue_data, tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("catalogue-io"), tiny_bert, catalogue_data["panx"], catalogue_data["pawsx"])
    result = invoke(train(e, "--languages", "de,fr"))
    assert result.rc == 0, result.stderr + (result.error or "")
    return e.tmp / "run"


# ---------------------------------------------------------------- --model


def _model_copy(change):
    def setup(e):
        shutil.copytree(e.model, e.tmp / "m")
        change(e.tmp / "m")
    return setup


def _write(name, content):
    def change(m):
        (m / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return change


def _truncate(name):
    def change(m):
        raw = (m / name).read_bytes()
        (m / name).write_bytes(raw[: len(raw) // 2])
    return change


def _remove(*names):
    def change(m):
        for name in names:
            for path in m.glob(name):
                path.unlink()
    return change


RANDOM = bytes(random.Random(1).randrange(256) for _ in range(4096))


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
             setup=_model_copy(lambda m: None)),
        Case(f"{command}-model-broken-config", with_model(local), ("config.json", "JSON"),
             setup=_model_copy(_write("config.json", '{"model_type": "bert",'))),
        Case(f"{command}-model-truncated-safetensors", with_model(local), ("{env.tmp}/m", "cannot load"),
             setup=_model_copy(_truncate("model.safetensors"))),
        Case(f"{command}-model-random-safetensors", with_model(local), ("{env.tmp}/m", "cannot load"),
             setup=_model_copy(_write("model.safetensors", RANDOM))),
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
         setup=_model_copy(_write("config.json", "{}"))),
    Case("train-model-config-a-list", lambda e: _train_with(e, e.tmp / "m"), ("config.json",),
         setup=_model_copy(_write("config.json", "[]"))),
    Case("train-model-config-unknown-type", lambda e: _train_with(e, e.tmp / "m"), ("{env.tmp}/m", "nonsense"),
         setup=_model_copy(_write("config.json", '{"model_type": "nonsense"}'))),
    Case("train-model-no-weights", lambda e: _train_with(e, e.tmp / "m"), ("{env.tmp}/m",),
         setup=_model_copy(_remove("model.safetensors", "*.bin"))),
    Case("train-model-no-tokenizer", lambda e: _train_with(e, e.tmp / "m"), ("{env.tmp}/m",),
         setup=_model_copy(_remove("tokenizer*", "vocab*", "special_tokens_map.json", "*.model"))),
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


def _read_only(folder_name):
    """Root ignores file modes, so a read-only folder is simulated: creating anything below it fails."""
    def patch(e, mp):
        folder = str(e.tmp / folder_name)
        original_mkdir, original_open, original_io_open = pathlib.Path.mkdir, open, io.open

        def denied(path):
            return str(path).startswith(folder + "/") or str(path) == folder

        def mkdir(self, *args, **kwargs):
            if denied(self) and not self.exists():
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return original_mkdir(self, *args, **kwargs)

        def guarded(opener):
            def open_(file, mode="r", *args, **kwargs):
                if isinstance(file, (str, pathlib.Path)) and denied(file) and any(c in mode for c in "wax+"):
                    raise PermissionError(errno.EACCES, "Permission denied", str(file))
                return opener(file, mode, *args, **kwargs)
            return open_
        mp.setattr(pathlib.Path, "mkdir", mkdir)
        mp.setattr("builtins.open", guarded(original_open))
        mp.setattr(io, "open", guarded(original_io_open))
    return patch


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
         setup=_mk("ro"), patch=_read_only("ro")),
    Case("out-read-only-folder", lambda e: train(e, out="ro"), ("ro", "Permission denied"),
         setup=_mk("ro"), patch=_read_only("ro")),
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
         setup=_model_copy(_truncate("model.safetensors")), after=_rerun_works(lambda e: train(e))),
    Case("failed-pipeline-leaves-nothing", lambda e: pipeline(e, "--data-dir", e.tmp / "data"), ("train-en.tsv:2",),
         setup=_bad_train_file, after=_rerun_works(lambda e: pipeline(e))),
]


# ---------------------------------------------------------------- --overwrite keeps the old run until the new one is done


def _copy_run(e):
    shutil.copytree(e.run, e.tmp / "run")
    e.extra["results"] = (e.tmp / "run" / "results.json").read_bytes()
    e.extra["predictions"] = sorted(p.name for p in (e.tmp / "run" / "predictions").iterdir())


def _old_run_intact(e, outcome):
    run = e.tmp / "run"
    if not (run / "results.json").exists() or (run / "results.json").read_bytes() != e.extra["results"]:
        return "data_loss", "the previous results.json is gone or replaced"
    if not (run / "predictions").is_dir() or sorted(p.name for p in (run / "predictions").iterdir()) != e.extra["predictions"]:
        return "data_loss", "the previous predictions/ are gone or changed"
    if not (run / "model").is_dir():
        return "data_loss", "the previous model/ is gone"
    return None


def _missing_test(e):
    _copy_run(e)
    shutil.copytree(e.panx, e.tmp / "data")
    (e.tmp / "data" / "test-de.tsv").unlink()
    (e.tmp / "data" / "dev-de.tsv").unlink()


CASES += [
    Case("overwrite-bad-model-path", lambda e: _train_with(e, e.tmp / "nope") + ["--overwrite"], ("nope",),
         setup=_copy_run, after=_old_run_intact),
    Case("overwrite-bad-data", lambda e: train(e, "--overwrite", "--data-dir", e.tmp / "data"), ("train-en.tsv:2",),
         setup=lambda e: (_copy_run(e), _bad_train_file(e)), after=_old_run_intact),
    Case("overwrite-missing-test-data", lambda e: train(e, "--overwrite", "--data-dir", e.tmp / "data"), ("'de'",),
         setup=_missing_test, after=_old_run_intact),
    Case("overwrite-disk-full", lambda e: train(e, "--overwrite"), ("No space left",), setup=_copy_run,
         patch=_patch_torch_save(OSError(errno.ENOSPC, "No space left on device")), after=_old_run_intact),
    Case("overwrite-disk-full-results", lambda e: train(e, "--overwrite"), ("No space left",), setup=_copy_run,
         patch=_patch_results, after=_old_run_intact),
    Case("overwrite-corrupt-model", lambda e: _train_with(e, e.tmp / "m") + ["--overwrite"], ("{env.tmp}/m",),
         setup=lambda e: (_copy_run(e), _model_copy(_write("model.safetensors", RANDOM))(e)), after=_old_run_intact),
    Case("pipeline-overwrite-bad-model", lambda e: _pipeline_with(e, e.tmp / "nope") + ["--overwrite"], ("nope",),
         setup=_copy_run, after=_old_run_intact),
]


# ---------------------------------------------------------------- xling evaluate


def evaluate(*extra):
    return lambda e: ["evaluate", "--run", e.tmp / "run", "--quiet", *[str(x).format(env=e) for x in extra]]


def _run_changed(change):
    def setup(e):
        _copy_run(e)
        change(e.tmp / "run")
    return setup


def _earlier_evaluation(*flags):
    def setup(e):
        _copy_run(e)
        first = invoke(evaluate(*flags)(e))
        assert first.rc == 0, first.stderr + (first.error or "")
        e.extra["evaluations"] = {p.name: p.read_bytes() for p in (e.tmp / "run").glob("evaluate*.json")}
    return setup


def _both_evaluations(e, outcome):
    lost = _old_run_intact(e, outcome)
    if lost:
        return lost
    for name, content in e.extra.get("evaluations", {}).items():
        if not (e.tmp / "run" / name).exists() or (e.tmp / "run" / name).read_bytes() != content:
            return "data_loss", f"the earlier evaluation {name} was replaced"
    if outcome.rc == 0 and len(list((e.tmp / "run").glob("evaluate*.json"))) < 2:
        return "data_loss", "two evaluations of one run do not live side by side"
    return None


def _no_stale_predictions(e, outcome):
    """The predictions beside eval.json are those of the languages it holds, no others."""
    lost = _old_run_intact(e, outcome)
    if lost:
        return lost
    folder = e.tmp / "eval-predictions"
    names = {p.name.split(".")[0] for p in folder.iterdir()} if folder.is_dir() else set()
    scored = set(json.loads((e.tmp / "eval.json").read_text())["languages"])
    if names != scored:
        return "data_loss", f"predictions of {sorted(names)} beside an evaluation of {sorted(scored)}"
    return None


CASES += [
    Case("evaluate-output-is-results-json", evaluate("--output", "{env.tmp}/run/results.json"), ("results.json",),
         setup=_copy_run, after=_old_run_intact),
    Case("evaluate-output-is-config-yaml", evaluate("--output", "{env.tmp}/run/config.yaml"), ("config.yaml",),
         setup=_copy_run, after=_old_run_intact),
    Case("evaluate-output-is-a-directory", evaluate("--output", "{env.tmp}/run/model"), ("model",),
         setup=_copy_run, after=_old_run_intact),
    Case("evaluate-twice-other-languages", evaluate("--languages", "fr"), expect="ok",
         setup=_earlier_evaluation("--languages", "de"), after=_both_evaluations),
    Case("evaluate-twice-other-split", evaluate("--languages", "de", "--eval-split", "dev"), expect="ok",
         setup=_earlier_evaluation("--languages", "de"), after=_both_evaluations),
    Case("evaluate-twice-the-same", evaluate("--languages", "de"), ("already exists", "--overwrite"),
         setup=_earlier_evaluation("--languages", "de"), after=_both_evaluations),
    Case("evaluate-same-output-twice", evaluate("--languages", "de", "--output", "{env.tmp}/eval.json"),
         ("eval.json", "--overwrite"), setup=_earlier_evaluation("--languages", "fr", "--output", "{env.tmp}/eval.json"),
         after=_no_stale_predictions),
    Case("evaluate-overwrite-drops-stale-predictions",
         evaluate("--languages", "de", "--output", "{env.tmp}/eval.json", "--overwrite"), expect="ok",
         setup=_earlier_evaluation("--languages", "fr", "--output", "{env.tmp}/eval.json"),
         after=_no_stale_predictions),
    Case("evaluate-config-unknown-key", evaluate(), ("config.yaml", "learnig_rate"),
         setup=_run_changed(lambda r: r.joinpath("config.yaml").write_text(
             r.joinpath("config.yaml").read_text() + "learnig_rate: 0.001\n"))),
    Case("evaluate-config-invalid-yaml", evaluate(), ("config.yaml", "YAML"),
         setup=_run_changed(lambda r: r.joinpath("config.yaml").write_text("task: [panx\n"))),
    Case("evaluate-config-bad-value", evaluate(), ("config.yaml", "dropout"),
         setup=_run_changed(lambda r: r.joinpath("config.yaml").write_text(
             r.joinpath("config.yaml").read_text().replace("dropout: 0.1", "dropout: 3")))),
    Case("evaluate-corrupt-encoder-weights", evaluate(), ("model", "cannot load"),
         setup=_run_changed(lambda r: _truncate("model.safetensors")(r / "model" / "encoder"))),
    Case("evaluate-random-head-weights", evaluate(), ("xling_heads.safetensors",),
         setup=_run_changed(lambda r: _write("xling_heads.safetensors", RANDOM)(r / "model"))),
    Case("evaluate-broken-model-spec", evaluate(), ("xling_model.json",),
         setup=_run_changed(lambda r: _write("xling_model.json", "{\"encoder\": ")(r / "model"))),
    Case("evaluate-missing-model-spec", evaluate(), ("xling_model.json",),
         setup=_run_changed(lambda r: (r / "model" / "xling_model.json").unlink())),
    Case("evaluate-broken-encoder-config", evaluate(), ("config.json", "JSON"),
         setup=_run_changed(lambda r: _write("config.json", "{")(r / "model" / "encoder"))),
    Case("evaluate-no-model", evaluate(), ("no saved model",), setup=_run_changed(lambda r: shutil.rmtree(r / "model"))),
    Case("evaluate-run-missing", lambda e: ["evaluate", "--run", e.tmp / "nope", "--quiet"], ("nope",)),
    Case("evaluate-other-kind", evaluate("--task", "pawsx", "--data-dir", "{env.pawsx}"), ("pawsx", "panx"),
         setup=_copy_run),
]


# ---------------------------------------------------------------- xling report


def _results(change):
    def setup(e):
        data = json.loads((e.run / "results.json").read_text())
        folder = e.tmp / "r"
        folder.mkdir()
        content = change(data)
        (folder / "results.json").write_text(content if isinstance(content, str) else json.dumps(content))
    return setup


def report(*extra):
    return lambda e: ["report", e.tmp / "r", *[str(x).format(env=e) for x in extra]]


def _intact(data):
    return data


CASES += [
    Case("report-json-list", report(), ("results.json", "list"), setup=_results(lambda d: [d])),
    Case("report-unknown-schema-version", report(), ("results.json", "xling.results/99"),
         setup=_results(lambda d: {**d, "schema": "xling.results/99"})),
    Case("report-not-xling", report(), ("results.json", "schema"), setup=_results(lambda d: {"a": 1})),
    Case("report-not-json", report(), ("results.json",), setup=_results(lambda d: "{\"schema\": ")),
    Case("report-languages-a-list", report(), ("results.json", "languages"),
         setup=_results(lambda d: {**d, "languages": []})),
    Case("report-language-entry-broken", report(), ("results.json",),
         setup=_results(lambda d: {**d, "languages": {"de": {"primary": 1}}})),
    Case("report-plot-missing-folder", report("--plot", "{env.tmp}/nowhere/p.png"), ("p.png",), setup=_results(_intact)),
    Case("report-plot-a-directory", report("--plot", "{env.tmp}/r"), ("{env.tmp}/r",), setup=_results(_intact)),
    Case("report-plot-read-only", report("--plot", "{env.tmp}/ro/p.png"), ("p.png", "Permission denied"),
         setup=lambda e: (_results(_intact)(e), (e.tmp / "ro").mkdir()), patch=_read_only("ro")),
    Case("report-output-missing-folder", report("--output", "{env.tmp}/nowhere/r.md"), ("r.md",),
         setup=_results(_intact)),
    Case("report-empty-folder", report(), ("results.json", "{env.tmp}/r"), setup=lambda e: (e.tmp / "r").mkdir()),
    Case("report-missing-path", lambda e: ["report", e.tmp / "nope"], ("nope",)),
    Case("report-unknown-metric", report("--metric", "bleu"), ("bleu",), setup=_results(_intact)),
    Case("report-unknown-baseline", report("--baseline", "nothing"), ("nothing",), setup=_results(_intact)),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_faults_and_outputs(case, env, finished_run, monkeypatch):  # noqa: F811
    env.run = finished_run
    assert_expected(case, env, monkeypatch)
