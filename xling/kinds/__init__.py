"""Task kinds: each module is one kind, owning its whole pipeline (see :mod:`xling.kinds.base`).

Example type, reader family, hub-row mapping, features and collate keys, head, gathering / assembling /
decoding, references, labels and scoring: everything that differs between sentence-pair classification,
tagging, extractive QA, multiple choice, retrieval and image-text alignment lives in that kind's module.
Every module of this package registers its kind in :data:`KINDS`; importing the package imports all of
them, so a new kind is a new module here.
"""

from __future__ import annotations

from xling.kinds.base import KINDS, Kind, collator_for, discover, get_kind

discover()

__all__ = ["KINDS", "Kind", "collator_for", "get_kind"]
