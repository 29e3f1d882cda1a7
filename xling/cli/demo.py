"""``xling demo``: the offline pipeline demo (synthetic data, tiny random encoder)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="offline pipeline demo: train on English, evaluate de/es/fr, report")
    parser.add_argument("--output-dir", default="xling-demo", help="where data, encoder and runs go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.cli._common import setup_logging
    from xling.demo.run import run_demo

    setup_logging()
    run_demo(args.output_dir, seed=args.seed, quiet=not args.progress)
    return 0
