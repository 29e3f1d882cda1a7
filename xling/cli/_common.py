"""Helpers shared by the sub-commands."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(quiet: bool = False) -> None:
    """xling's messages on stderr; the libraries' chatter and progress bars off."""
    logging.basicConfig(level=logging.INFO, format="xling: %(message)s", stream=sys.stderr, force=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    try:
        import datasets
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        datasets.utils.logging.set_verbosity_error()
        datasets.utils.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
