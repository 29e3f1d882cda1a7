"""``xling train``: fine-tune on the source language, evaluate zero-shot on every target language."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from xling.config import add_config_arguments

    parser = sub.add_parser(
        "train", help="train on English (or another source), evaluate zero-shot on every language",
        description="Every option can also be a key in the YAML file given with --config; flags override it.",
    )
    parser.add_argument("--config", metavar="FILE.yaml", help="YAML file of options")
    add_config_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.cli._common import setup_logging
    from xling.config import TrainConfig, make_config, overrides_from_args
    from xling.reporting.tables import render
    from xling.training.run import run_training

    cfg = make_config(TrainConfig, args.config, overrides_from_args(args))
    setup_logging(cfg.quiet)
    from xling.distributed import is_main

    results = run_training(cfg)
    if not is_main():
        return 0
    print(render([results]))
    print(f"results: {results.run_dir}/results.json")
    return 0
