"""``xling suite`` (alias ``benchmark``): run a suite (XTREME, XTREME-R) for a model, or build its table from runs."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from xling.config import add_config_arguments, field_names
    from xling.studies.suite_runner import PASS_THROUGH
    from xling.studies.suites import QA_SCORES, SUITES

    parser = sub.add_parser(
        "suite", aliases=["benchmark"],
        help="run a suite's available tasks for a model (or read --runs) and print the suite table",
        description="With --model, --data-root and --output-dir: train/score every task of the suite that xling has "
                    "(per-task data defaults are documented in xling/studies/suite_runner.py), then print the table "
                    "with category averages. With --runs: only build the table from existing results.json files. "
                    "`xling benchmark` is the same command.",
    )
    parser.add_argument("--suite", required=True, choices=SUITES.names())
    parser.add_argument("--runs", nargs="+", metavar="DIR", help="build the table from results.json files below these")
    parser.add_argument("--model", help="Hugging Face encoder id or checkpoint directory")
    parser.add_argument("--data-root", metavar="DIR", help="the data folder (e.g. ../shared/data)")
    parser.add_argument("--output-dir", metavar="DIR", help="one run directory per task goes here, plus suite.json/md")
    parser.add_argument("--tasks", metavar="A,B,...", help="run only these xling tasks of the suite")
    parser.add_argument("--qa-score", choices=QA_SCORES, default="f1",
                        help="QA score in the averages: F1 (papers' tables) or mean of EM and F1 (xtreme evaluate.py)")
    parser.add_argument("--retrieval-layer", type=int, metavar="K", help="hidden state for Tatoeba (default: last)")
    parser.add_argument("--max-sentences", type=int, metavar="N", help="Tatoeba pairs per language (default: all)")
    parser.add_argument("--json", metavar="FILE", help="with --runs: also write the suite scores as JSON")
    add_config_arguments(parser, skip=tuple(n for n in field_names() if n not in PASS_THROUGH))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from xling.cli import CommandError
    from xling.cli._common import setup_logging
    from xling.config import overrides_from_args
    from xling.studies.suites import collect_runs, get_suite, render_suite, score_suite

    suite = get_suite(args.suite)
    overrides = overrides_from_args(args)
    setup_logging(overrides.get("quiet", False))
    if args.runs:
        scores = score_suite(suite, collect_runs(args.runs), args.qa_score)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump(scores.to_dict(), handle, indent=2, ensure_ascii=False)
    else:
        missing = [flag for flag, value in (("--model", args.model), ("--data-root", args.data_root),
                                            ("--output-dir", args.output_dir)) if not value]
        if missing:
            raise CommandError(f"running a suite needs {', '.join(missing)} (or give --runs DIR to only build the table)")
        from xling.studies.suite_runner import run_suite

        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
        scores = run_suite(suite, args.model, args.data_root, args.output_dir, overrides, tasks=tasks,
                               retrieval_layer=args.retrieval_layer, max_sentences=args.max_sentences,
                               qa_score=args.qa_score)
        print(f"suite table: {args.output_dir}/suite.md, scores: {args.output_dir}/suite.json")
    print(render_suite(scores), end="")
    return 0
