"""``xling ensemble``: combine finished runs (probabilities, votes or weights) and compare with the members."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "ensemble", help="combine finished runs: average probabilities, majority vote or average weights",
        description="prob: mean of the members' probabilities; vote: majority of their predictions (ties go to "
                    "the larger summed probability); weights: one model with the mean of their parameters "
                    "(members must share encoder config, fusion and heads). Saved probabilities are used when "
                    "they cover the scored examples, else each member's model is run.")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run directories, results files or folders of runs")
    parser.add_argument("--output-dir", "-o", required=True, metavar="DIR", help="where results.json is written")
    parser.add_argument("--method", choices=("prob", "vote", "weights"), default="prob")
    parser.add_argument("--languages", metavar="A,B,...", help="default: the languages every member was scored on")
    parser.add_argument("--data-dir", metavar="DIR", help="data folder (default: the first member's)")
    parser.add_argument("--eval-batch-size", type=int, metavar="N", help="when members' models are run")
    parser.add_argument("--no-save-model", dest="save_model", action="store_false",
                        help="with --method weights: do not keep the averaged model in OUTPUT/model")
    parser.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    parser.add_argument("--digits", type=int, default=1, help="decimals in the table")
    parser.add_argument("--overwrite", action="store_true", help="replace results already in --output-dir")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.cli._common import format_table, setup_logging
    from xling.evaluation.ensemble import run_ensemble

    setup_logging(args.quiet)
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()] if args.languages else None
    outcome = run_ensemble(args.runs, args.output_dir, args.method, languages=languages, data_dir=args.data_dir,
                           eval_batch_size=args.eval_batch_size, quiet=args.quiet, overwrite=args.overwrite,
                           save_model=args.save_model, digits=args.digits)
    results = outcome.results
    if args.format == "markdown":
        print(f"### {results.task['name']} ({results.primary_metric}): {results.fusion['method']} of "
              f"{len(outcome.member_scores)} runs, scored on the same examples\n")
    print(format_table(outcome.header, outcome.rows, args.format), end="")
    print(f"results: {results.run_dir}/results.json")
    return 0
