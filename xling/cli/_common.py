"""Helpers shared by the sub-commands."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(quiet: bool = False) -> None:
    """xling's messages on stderr, once (by the main process of several); the libraries' chatter and progress
    bars off."""
    from xling.distributed import is_main

    main = is_main()
    logging.basicConfig(level=logging.INFO if main else logging.ERROR, format="xling: %(message)s",
                        stream=sys.stderr, force=True)
    if not main:
        import warnings

        warnings.simplefilter("ignore")
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


def format_table(header: list[str], rows: list[list[str]], fmt: str = "markdown") -> str:
    """A table as markdown (first column left-aligned, the rest right-aligned) or CSV."""
    import csv
    import io

    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
        return buffer.getvalue()
    if fmt != "markdown":
        from xling.errors import ConfigError

        raise ConfigError(f"unknown format {fmt!r}; choose markdown or csv")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
