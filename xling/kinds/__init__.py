"""Task kinds: how each kind featurizes, which head it uses, how it decodes and scores.

Every module of this package registers its kind in :data:`KINDS` on import;
all of them are imported here.
"""

from __future__ import annotations

import importlib
import pkgutil

from xling.kinds.base import KINDS, Kind, get_kind

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["KINDS", "Kind", "get_kind"]
