"""Shared, session-scoped fixtures: tiny checkpoints and sample data, built once, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One intra-op thread (here and in the CLI subprocesses): the test models are tiny, so threads only add
# synchronisation, and on a shared machine oversubscribed threads make a test step many times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> dict[str, Path]:
    from xling.demo.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("sample"), seed=0, train_size=120, dev_size=30, test_size=40)


@pytest.fixture(scope="session")
def tiny_texts() -> list[str]:
    from xling.demo.sample import sample_sentences

    return sample_sentences(0)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, tiny_texts) -> Path:
    from xling.demo.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-bert"), tiny_texts, architecture="bert",
                                 layers=3, hidden=32, vocab_size=800)


@pytest.fixture(scope="session")
def tiny_mt5(tmp_path_factory, tiny_texts) -> Path:
    from xling.demo.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-mt5"), tiny_texts, architecture="mt5",
                                 layers=3, hidden=32, vocab_size=800)


@pytest.fixture(scope="session", params=["bert", "mt5"])
def tiny_model(request, tiny_bert, tiny_mt5) -> Path:
    return {"bert": tiny_bert, "mt5": tiny_mt5}[request.param]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 300):
    """Run ``python -m xling ...`` in a subprocess; returns the CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "xling", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=timeout)
