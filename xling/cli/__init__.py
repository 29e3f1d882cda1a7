"""The ``xling`` command line.

Every module in this package that defines ``register(subparsers)`` adds one
sub-command; heavy imports happen inside each command's ``run``, so
``xling --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from xling import __version__


class CommandError(Exception):
    """An error the user can fix; printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xling",
        description="Zero-shot cross-lingual transfer with multilingual encoders.",
    )
    parser.add_argument("--version", action="version", version=f"xling {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0, 2 for an error the user can fix, 130 / 143 for a run stopped by Ctrl-C / SIGTERM."""
    from xling.distributed import end_processes, is_main

    parser = build_parser()
    args = parser.parse_args(argv)
    ended = False
    try:
        result = args.func(args)
        ended = True
    except KeyboardInterrupt:
        if is_main():
            print("xling: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - user-facing errors are printed plainly
        from xling.errors import XlingError

        if isinstance(exc, (XlingError, CommandError)):
            code = getattr(exc, "exit_code", 2)
            if is_main():  # several processes raise the same error; one prints it
                print(f"xling: {'error: ' if code == 2 else ''}{exc}", file=sys.stderr)
            return code
        raise
    finally:  # under a launcher: every process leaves the process group here, not while the interpreter exits
        end_processes(synchronise=ended)
    return int(result or 0)
