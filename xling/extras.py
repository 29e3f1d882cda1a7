"""Optional extras: what a command needs beyond the core install, and the one message that says how to get it.

The core install (``pip install xling``) trains, evaluates and writes Markdown/CSV reports. Commands that
need more name their extra: ``xling[plots]`` (matplotlib: figures, the HTML report's images),
``xling[typology]`` (lang2vec: URIEL distances), ``xling[ray]`` (``xling sweep --backend ray``) and
``xling[trackers]`` (``--report-to tensorboard,mlflow,wandb``); ``xling[all]`` installs every one.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from xling.errors import XlingError

EXTRAS = {
    "plots": ("matplotlib",),
    "typology": ("lang2vec", "scipy"),
    "ray": ("ray",),
    "trackers": ("tensorboard", "mlflow", "wandb"),
}


class MissingExtraError(XlingError, ImportError):
    """A command needs a package of an optional extra that is not installed."""


def install_hint(extra: str) -> str:
    return f'pip install "xling[{extra}]"'


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or say which ``pip install "xling[extra]"`` gives ``purpose`` what it needs."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module  # the package itself, or one it needs (pkg_resources)
        top = module.split(".")[0]
        missing = top if missing.split(".")[0] == top else missing
        raise MissingExtraError(f"{purpose}: {missing} is not installed; run {install_hint(extra)} "
                                f"(or {install_hint('all')})") from None


def pyplot(purpose: str) -> ModuleType:
    """``matplotlib.pyplot`` on the file-only Agg backend (``xling[plots]``)."""
    matplotlib = require("matplotlib", "plots", purpose)
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")
