"""Task kinds: how each kind featurizes, which head it uses, how it decodes and scores."""

from xling.kinds import classification, tagging  # noqa: F401 - register the built-in kinds
from xling.kinds.base import KINDS, Kind, get_kind

__all__ = ["KINDS", "Kind", "get_kind"]
