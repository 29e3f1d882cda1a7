"""Optional extras: the core never imports them; a command that needs a missing one names its pip install."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from tests.conftest import ROOT
from xling.extras import EXTRAS, MissingExtraError, install_hint, require

OPTIONAL = sorted({m for modules in EXTRAS.values() for m in modules} | {"sklearn"})


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_pyproject_declares_every_extra_and_the_core_has_none():
    project = pyproject()
    extras = project["optional-dependencies"]
    assert set(EXTRAS) <= set(extras) and extras["all"] == [f"xling[{','.join(EXTRAS)}]"]
    assert "xling[all]" in extras["test"]  # ./dev.sh installs .[test]: everything
    core = " ".join(project["dependencies"]).lower()
    for package in ("matplotlib", "lang2vec", "scipy", "ray", "tensorboard", "mlflow", "wandb", "setuptools"):
        assert package not in core
    assert any(d.startswith("lang2vec") for d in extras["typology"])
    assert any(d.startswith("mlflow") for d in extras["trackers"])


def test_core_modules_import_no_extra():
    code = ("import sys, xling.cli as c; c.build_parser()\n"
            "import xling.training.run, xling.training.pipeline, xling.evaluation.reevaluate, xling.reporting.html\n"
            "import xling.studies.typology, xling.sweep.ray_backend, xling.retrieval.analysis, xling.kinds\n"
            f"print(sorted(m for m in {OPTIONAL!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def _figures():
    from xling.reporting.figures import _pyplot

    _pyplot()


def _lang2vec():
    from xling.studies.typology import _l2v

    _l2v.__wrapped__()  # past the cache


def _scipy():
    from xling.studies.typology import _stats

    _stats()


def _ray():
    from xling.sweep.ray_backend import _ray

    _ray()


def _trackers():
    from xling.training.trackers import check_trackers

    check_trackers(["tensorboard", "mlflow"])


@pytest.mark.parametrize("module, extra, call, purpose", [
    ("matplotlib", "plots", _figures, "the HTML report's figures"),
    ("lang2vec", "typology", _lang2vec, "URIEL typological distances"),
    ("scipy", "typology", _scipy, "gain-distance correlations"),
    ("ray", "ray", _ray, "xling sweep --backend ray"),
    ("mlflow", "trackers", _trackers, "--report-to mlflow"),
])
def test_a_missing_extra_names_its_pip_install(monkeypatch, module, extra, call, purpose):
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(MissingExtraError) as info:
        call()
    assert str(info.value) == (f"{purpose}: {module} is not installed; run pip install \"xling[{extra}]\" "
                               f"(or pip install \"xling[all]\")")


def test_require_returns_the_module():
    import json

    assert require("json", "plots", "x") is json and install_hint("ray") == 'pip install "xling[ray]"'


def test_cli_says_which_extra_in_one_line(tmp_path, monkeypatch, capsys):
    """xling report --plot where matplotlib cannot be imported: exit 2 and the pip command, in one line."""
    from tests.report_runs import make_run
    from xling.cli import main

    make_run(1, {"en": 80.0, "de": 70.0}).save(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["report", str(tmp_path), "--plot", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ('xling: error: xling report --plot: matplotlib is not installed; run '
                   'pip install "xling[plots]" (or pip install "xling[all]")')
