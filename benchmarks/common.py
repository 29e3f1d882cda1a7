"""Paths and helpers shared by the benchmark scripts (they read ../shared/data by path)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("XLING_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
OUT = ROOT / "benchmarks" / "out"  # run directories (not committed)
RESULTS = ROOT / "benchmarks" / "results"  # compact, committed summaries
PLOTS = ROOT / "benchmarks" / "plots"
E5 = Path(os.environ.get("XLING_E5", ROOT / "benchmarks" / "cache" / "e5-small"))


def e5_checkpoint() -> Path:
    """multilingual-e5-small as a local checkpoint, built with ``xling model download e5-small`` if missing."""
    if not (E5 / "model.safetensors").exists():
        subprocess.run([sys.executable, "-m", "xling", "model", "download", "e5-small", str(E5)], check=True)
    return E5


def machine() -> dict:
    import torch

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": date.today().isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def xling(*args: str, log: Path | None = None, env: dict[str, str] | None = None) -> int:
    """Run ``python -m xling ...`` (a fresh process per run: no memory carried between runs)."""
    return xling_measured(*args, log=log, env=env)[0]


def xling_measured(*args: str, log: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, float]:
    """``python -m xling ...`` in a fresh process: its exit code and the whole process's peak RSS in MB."""
    return run_measured([sys.executable, "-m", "xling", *map(str, args)], log=log, env=env)


def run_measured(command: list[str], log: Path | None = None, env: dict[str, str] | None = None,
                 capture: bool = False) -> tuple[int, float] | tuple[int, float, str]:
    """Run ``command``; return its exit code and peak RSS (MB) as the kernel counted it for the whole process
    (``wait4``'s ``ru_maxrss``: the same measurement for every program, from start to exit), and its stdout
    when ``capture``."""
    import subprocess as sp

    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "w") if log is not None else None
    try:
        stdout = sp.PIPE if capture else out
        process = sp.Popen(command, env=env, stdout=stdout, stderr=sp.STDOUT if out else None, text=True)
        text = process.stdout.read() if capture else ""
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if out is not None:
            out.close()
    peak = usage.ru_maxrss / 1024.0
    return (process.returncode, peak, text) if capture else (process.returncode, peak)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
