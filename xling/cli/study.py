"""``xling study``: many pipelines, one table (diversity of intermediate tasks; English vs multilingual)."""

from __future__ import annotations

import argparse


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    from xling.cli.pipeline import add_pipeline_arguments

    parser = sub.add_parser("study", help="run a study of pipelines and tabulate it (diversity, multilingual)",
                            description="Runs go to OUTPUT/runs/; running the same command again skips finished "
                                        "runs and resumes unfinished ones. See docs/pipelines.md.")
    kinds = parser.add_subparsers(dest="study", metavar="STUDY")
    kinds.required = True

    diversity = kinds.add_parser("diversity", help="target score against the number of intermediate tasks",
                                 description="For each size k, every k-subset of --pool (or --subsets of them) "
                                             "before the target, for every seed.")
    diversity.add_argument("--pool", type=_names, required=True, metavar="T1,T2,...", help="intermediate tasks")
    diversity.add_argument("--sizes", type=_ints, metavar="0,1,2", help="numbers of intermediate tasks "
                           "(default: 0 to the pool size)")
    diversity.add_argument("--subsets", type=int, metavar="N", help="subsets sampled per size (default: all)")
    diversity.add_argument("--subset-seed", type=int, default=0, help="seed of the subset sample")
    diversity.add_argument("--mode", choices=("multitask", "sequential"), default="multitask",
                           help="a subset as one multi-task stage, or one stage per task in pool order")
    multilingual = kinds.add_parser("multilingual", help="one intermediate task on English vs several languages",
                                    description="The intermediate task trained on --english alone and on "
                                                "--intermediate-languages, each before the target, for every seed.")
    multilingual.add_argument("--intermediate", dest="intermediate_task", required=True, metavar="TASK",
                              help="the intermediate task")
    multilingual.add_argument("--intermediate-languages", type=_names, required=True, metavar="L1,L2,...",
                              help="languages of the multilingual variant (its training data)")
    multilingual.add_argument("--english", default="en", help="the single language of the other variant")
    for study in (diversity, multilingual):
        study.add_argument("--seeds", type=_ints, metavar="1,2,3", help="seeds (default: --seed)")
        study.add_argument("--dry-run", action="store_true", help="list the planned runs and stop")
        add_pipeline_arguments(study, intermediate=False)
        study.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xling.cli._common import setup_logging
    from xling.cli.pipeline import pipeline_config
    from xling.studies import intermediate as studies

    cfg = pipeline_config(args)
    setup_logging(cfg.train.quiet)
    seeds = args.seeds or [cfg.train.seed]
    if args.study == "diversity":
        sizes = args.sizes if args.sizes is not None else list(range(len(args.pool) + 1))
        plan = studies.plan_diversity(cfg, args.pool, sizes, seeds, args.subsets, args.subset_seed, args.mode)
    else:
        plan = studies.plan_multilingual(cfg, args.intermediate_task, args.intermediate_languages, seeds, args.english)
    if args.dry_run:
        for run in plan:
            done = (Path(run.cfg.train.output_dir) / "results.json").is_file()
            print(f"{run.name}{'  (finished)' if done else ''}")
        print(f"{len(plan)} runs in {cfg.train.output_dir}/runs")
        return 0
    if args.study == "diversity":
        output = studies.run_diversity(cfg, args.pool, sizes, seeds, args.subsets, args.subset_seed, args.mode)
    else:
        output = studies.run_multilingual(cfg, args.intermediate_task, args.intermediate_languages, seeds, args.english)
    print(output.table)
    for path in output.files:
        print(f"wrote {path}")
    return 0
