"""The error catalogue's machinery: a case, how it is run (in-process, through ``xling.cli.main``), its outcome.

A case is one genuine bad input or injected fault. Running it gives one outcome category:

* ``clear``: exit code 2 and a one-line ``xling: error: ...`` naming what the case says it must name;
* ``vague``: an error without a traceback, but the message does not name the file, line or value;
* ``warning``: exit code 0 with the expected warning (in the log, and where the case asks, results.json);
* ``traceback``: an exception escaped ``main`` (or stderr shows a Python traceback);
* ``silent``: exit code 0 with no error or warning where one was due (silently wrong results);
* ``data_loss``: the case's check finds earlier results gone or replaced (or partial files left behind);
* ``ok``: an input that must simply work (``expect="ok"``) did, and its check found nothing wrong.

With ``XLING_CATALOGUE_OUT=FILE`` every outcome is appended to FILE (JSON lines), so that
``python -m tests.catalogue FILE`` counts them (how the before/after counts in the test docstrings were made).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import pathlib
import random
import shutil
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FOUR = {"clear": "clear error", "vague": "clear error", "warning": "clear error", "traceback": "traceback",
        "silent": "silent-wrong", "data_loss": "data loss", "ok": "worked"}


@dataclass
class Case:
    """``argv(env)`` is the command line; ``setup(env)`` writes the bad input; ``after(env, out)`` checks the
    aftermath and returns ``(category, why)`` when it finds data loss or a silent wrong result."""

    id: str
    argv: Callable[["Env"], list[str]]
    says: tuple[str, ...] = ()  # what the error (or warning) must contain
    expect: str = "clear"  # or "warning"
    setup: Callable[["Env"], Any] | None = None
    after: Callable[["Env", "Outcome"], tuple[str, str] | None] | None = None
    patch: Callable[["Env", pytest.MonkeyPatch], None] | None = None
    marks: tuple = ()

    def param(self):
        return pytest.param(self, id=self.id, marks=self.marks)


@dataclass
class Env:
    """The fixtures a case builds on, and a fresh folder ``tmp`` of its own."""

    tmp: Path
    model: Path
    panx: Path
    pawsx: Path
    run: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    rc: int | None
    stdout: str
    stderr: str
    error: str | None = None  # the traceback of an exception that escaped main


def invoke(argv: list[str]) -> Outcome:
    """``xling ARGV`` in this process; what it printed, its exit code, or the exception that escaped."""
    from xling.cli import main

    out, err = io.StringIO(), io.StringIO()
    rc: int | None = None
    error = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            rc = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 - that is what the catalogue looks for
            error = traceback.format_exc()
    import logging

    for handler in logging.getLogger().handlers:  # the next case logs to its own stream
        if getattr(handler, "stream", None) is err:
            logging.getLogger().removeHandler(handler)
    return Outcome(rc, out.getvalue(), err.getvalue(), error)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("xling: error:") or ": error: " in line]


def classify(case: Case, env: Env, outcome: Outcome) -> tuple[str, str]:
    if outcome.error or "Traceback (most recent call last)" in outcome.stderr:
        text = outcome.error or outcome.stderr
        return "traceback", text.strip().splitlines()[-1][:300]
    if case.after is not None:
        found = case.after(env, outcome)
        if found:
            return found
    says = [s.format(env=env) for s in case.says]
    if outcome.rc not in (0, None):
        errors = error_lines(outcome.stderr)
        line = errors[-1] if errors else outcome.stderr.strip().splitlines()[-1:] or [""]
        line = line if isinstance(line, str) else line[0]
        if outcome.rc == 2 and errors and all(s.lower() in line.lower() for s in says):
            return "clear", line
        return "vague", f"rc {outcome.rc}: {line[:300]}"
    if case.expect == "ok":
        return "ok", "exit 0"
    if case.expect == "warning" and says and all(s.lower() in outcome.stderr.lower() for s in says):
        return "warning", next((line for line in outcome.stderr.splitlines() if says[0].lower() in line.lower()), "")
    return "silent", "exit 0" + (f"; expected {case.expect}: {says}" if says else "")


def check(case: Case, env: Env, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Run ``case``, record its outcome, return ``(category, detail)``."""
    if case.setup is not None:
        case.setup(env)
    if case.patch is not None:
        case.patch(env, monkeypatch)
    argv = case.argv(env)
    outcome = invoke(argv)
    monkeypatch.undo()
    category, detail = classify(case, env, outcome)
    record = os.environ.get("XLING_CATALOGUE_OUT")
    if record:
        with open(record, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"id": case.id, "category": category, "detail": detail}) + "\n")
    return category, detail


def assert_expected(case: Case, env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    category, detail = check(case, env, monkeypatch)
    assert category == case.expect, f"{case.id}: {category}: {detail}"


# ---------------------------------------------------------------- fixtures shared by the catalogue files


@pytest.fixture(scope="session")
def catalogue_data(tmp_path_factory) -> dict[str, Path]:
    from xling.demo.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("catalogue-data"), seed=0, train_size=24, dev_size=8, test_size=8)


@pytest.fixture()
def env(tmp_path, tiny_bert, catalogue_data) -> Env:
    return Env(tmp_path, tiny_bert, catalogue_data["panx"], catalogue_data["pawsx"])


SMALL = ["--max-steps", "2", "--batch-size", "8", "--max-seq-length", "32", "--quiet", "--eval-batch-size", "16"]


def train(env: Env, *extra: Any, task: str = "panx", out: str = "run", data: Path | None = None) -> list[str]:
    data = data if data is not None else (env.panx if task == "panx" else env.pawsx)
    return ["train", "--task", task, "--model", env.model, "--data-dir", data, "--output-dir", env.tmp / out,
            "--languages", "de", *SMALL, *map(str, extra)]


def pipeline(env: Env, *extra: Any, out: str = "run") -> list[str]:
    return ["pipeline", "--model", env.model, "--intermediate", "", "--target", "panx", "--data-dir", env.panx,
            "--output-dir", env.tmp / out, "--languages", "de", *SMALL, *map(str, extra)]


# ---------------------------------------------------------------- helpers of the model, output and evaluate cases


@pytest.fixture(scope="session")
def finished_run(tiny_bert, catalogue_data, tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("catalogue-io"), tiny_bert, catalogue_data["panx"], catalogue_data["pawsx"])
    result = invoke(train(e, "--languages", "de,fr"))
    assert result.rc == 0, result.stderr + (result.error or "")
    return e.tmp / "run"


def model_copy(change):
    def setup(e):
        shutil.copytree(e.model, e.tmp / "m")
        change(e.tmp / "m")
    return setup


def write_file(name, content):
    def change(m):
        (m / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return change


def truncate(name):
    def change(m):
        raw = (m / name).read_bytes()
        (m / name).write_bytes(raw[: len(raw) // 2])
    return change


def remove_files(*names):
    def change(m):
        for name in names:
            for path in m.glob(name):
                path.unlink()
    return change


RANDOM = bytes(random.Random(1).randrange(256) for _ in range(4096))


def read_only(folder_name):
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


def copy_run(e):
    shutil.copytree(e.run, e.tmp / "run")
    e.extra["results"] = (e.tmp / "run" / "results.json").read_bytes()
    e.extra["predictions"] = sorted(p.name for p in (e.tmp / "run" / "predictions").iterdir())


def old_run_intact(e, outcome):
    run = e.tmp / "run"
    if not (run / "results.json").exists() or (run / "results.json").read_bytes() != e.extra["results"]:
        return "data_loss", "the previous results.json is gone or replaced"
    if not (run / "predictions").is_dir() or sorted(p.name for p in (run / "predictions").iterdir()) != e.extra["predictions"]:
        return "data_loss", "the previous predictions/ are gone or changed"
    if not (run / "model").is_dir():
        return "data_loss", "the previous model/ is gone"
    return None


def main_summary(path: str) -> str:
    """The counts of a recorded catalogue run (``XLING_CATALOGUE_OUT``), per category and in four."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    latest = {row["id"]: row for row in rows}
    detail = Counter(row["category"] for row in latest.values())
    four = Counter(FOUR[c] for c in (row["category"] for row in latest.values()))
    lines = [f"{len(latest)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(four.items())),
             "  by outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(detail.items()))]
    for row in sorted(latest.values(), key=lambda r: (r["category"], r["id"])):
        if len(sys.argv) > 2 and row["category"] != "clear":
            lines.append(f"  {row['category']:9} {row['id']}: {row['detail'][:160]}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main_summary(sys.argv[1]))
