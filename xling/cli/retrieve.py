"""``xling retrieve``: Tatoeba-style sentence retrieval, or BUCC bitext mining (``--task bucc``), with any layer or
fusion of a raw or fine-tuned encoder."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from xling.retrieval.bucc import BuccConfig
    from xling.config import add_config_arguments, field_names
    from xling.retrieval.tatoeba import RetrievalConfig

    parser = sub.add_parser(
        "retrieve", help="sentence retrieval (Tatoeba) without training: accuracy per language, both directions",
        description="Embed both sides (mean pooling over real tokens), cosine nearest neighbour en->xx (the primary "
                    "score, as XTREME) and xx->en. --task bucc mines translation pairs from BUCC 2018 corpora instead "
                    "(margin-scored candidates, threshold chosen on dev, F1; the options marked bucc). Every option "
                    "can also be a key in the YAML file given with --config.",
    )
    parser.add_argument("--config", metavar="FILE.yaml", help="YAML file of options")
    add_config_arguments(parser, RetrievalConfig)
    add_config_arguments(parser, BuccConfig, skip=tuple(field_names(RetrievalConfig)))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.retrieval.bucc import config_from_args, run_bucc, summary
    from xling.cli._common import setup_logging
    from xling.config import make_config, overrides_from_args
    from xling.reporting.tables import render
    from xling.retrieval.tatoeba import RetrievalConfig, run_retrieval

    bucc = config_from_args(args, RetrievalConfig)
    if bucc is not None:
        setup_logging(bucc.quiet)
        results = run_bucc(bucc)
        print(render([results]) + summary(results), end="")
        if results.run_dir:
            print(f"results: {results.run_dir}/results.json")
        return 0
    cfg = make_config(RetrievalConfig, args.config, overrides_from_args(args, RetrievalConfig))
    setup_logging(cfg.quiet)
    results = run_retrieval(cfg)
    print(render([results]), end="")
    if results.run_dir:
        print(f"results: {results.run_dir}/results.json")
    return 0
