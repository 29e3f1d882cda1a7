"""``xling sweep``: a grid of train / pipeline runs from a YAML file, on this machine or on Ray.

``xling sweep SPEC.yaml --output-dir DIR`` runs it (again: finished runs are skipped, killed ones resumed);
``xling sweep status DIR`` says what is done, running, failed and pending. See docs/sweeps.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time


def _seeds(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sweep", help="run a sweep file (grid x configs x seeds, selection on English dev) locally or on Ray",
        description="xling sweep SPEC.yaml --output-dir DIR runs every run of the sweep file that is not finished "
                    "(the same command continues a killed sweep); xling sweep status DIR [--watch] shows its state. "
                    "See docs/sweeps.md.")
    parser.add_argument("spec", metavar="SPEC.yaml|status", help="the sweep file, or 'status'")
    parser.add_argument("directory", nargs="?", metavar="DIR", help="with status: the sweep directory")
    parser.add_argument("--output-dir", metavar="DIR", help="the sweep directory (default: the file's output_dir)")
    parser.add_argument("--backend", choices=("local", "ray"), help="local processes (default) or Ray tasks")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="runs at once: local (default 1; cores split evenly) or embedded Ray (cores // N CPUs "
                             "per run); on a Ray cluster, at most N in flight")
    parser.add_argument("--ray-address", metavar="auto|HOST:PORT", help="join this Ray cluster (implies --backend "
                        "ray); without it Ray runs embedded in this process")
    parser.add_argument("--cpus", type=float, help="CPUs (threads) per run (overrides resources.cpus)")
    parser.add_argument("--gpus", type=float, help="GPUs per run, fractions share a GPU, 0 none (resources.gpus)")
    parser.add_argument("--memory", metavar="SIZE", help="memory per run for Ray's scheduler, e.g. 4GB (resources.memory)")
    parser.add_argument("--retries", type=int, metavar="K", help="retries of a run whose worker died (default: the "
                        "file's retries, else 2)")
    parser.add_argument("--only", metavar="GLOB,...", help="only the runs whose TASK/CONFIG or TASK/NAME matches, e.g. "
                        "'panx/*' or '*/aif8*'")
    parser.add_argument("--seeds", type=_seeds, metavar="1,2,3", help="replace the file's seeds")
    parser.add_argument("--report-to", metavar="TRACKERS", help="experiment trackers of every run, comma-separated: "
                        "tensorboard, mlflow, wandb or none (replaces base: report_to; docs/trackers.md)")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and their state, run nothing")
    parser.add_argument("--watch", action="store_true", help="with status: redraw until the sweep stops")
    parser.add_argument("--interval", type=float, default=5.0, help="with status --watch: seconds between redraws")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xling.cli import CommandError

    if args.spec == "status":
        if not args.directory:
            raise CommandError("xling sweep status DIR: name the sweep directory")
        return status(args.directory, args.watch, args.interval)
    if args.directory:
        raise CommandError(f"unexpected argument {args.directory!r}; the sweep directory is --output-dir DIR")
    return run_sweep(args)


def run_sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xling.cli import CommandError
    from xling.sweep.scheduler import Sweep
    from xling.sweep.spec import load_spec, parse_memory
    from xling.sweep.table import render_sweep
    from xling.sweep.state import TABLES

    spec = load_spec(args.spec, args.seeds)
    out = args.output_dir or spec.output_dir
    if not out:
        raise CommandError("name the sweep directory with --output-dir DIR (or output_dir: in the sweep file)")
    resources = dataclasses.replace(
        spec.resources, **{k: v for k, v in (("cpus", args.cpus), ("gpus", args.gpus),
                                             ("memory", parse_memory(args.memory, "--memory"))) if v is not None})
    spec = dataclasses.replace(spec, resources=resources)
    if args.report_to is not None:
        from xling.training.trackers import parse_report_to

        names = parse_report_to(args.report_to.split(","))
        spec = dataclasses.replace(spec, base={**spec.base, "report_to": names})
    sweep = Sweep(spec, Path(out), [p.strip() for p in args.only.split(",") if p.strip()] if args.only else None,
                  args.retries)
    if args.dry_run:
        for key in sweep.runs:
            finished = (sweep.out / key / "results.json").is_file()
            left_out = sweep.only is not None and key not in sweep.only
            print(key + ("  (finished)" if finished else "  (not in --only)" if left_out else ""))
        waiting = sum(len(g["final_seeds"]) for g in sweep.groups.values() if g["state"] == "waiting")
        print(f"{len(sweep.runs)} runs in {sweep.out}" + (f", {waiting} more after selection" if waiting else ""))
        return 0
    backend_name = "ray" if args.ray_address else args.backend or "local"
    if backend_name == "ray":
        from xling.sweep.ray_backend import RayBackend

        backend = RayBackend(args.ray_address, args.jobs, resources)
    else:
        from xling.sweep.local import LocalBackend, default_jobs

        backend = LocalBackend(args.jobs or default_jobs(resources), resources)
    result = sweep.run(backend)
    tables = render_sweep(sweep.out)
    (sweep.out / TABLES).write_text(tables, encoding="utf-8")
    print(tables)
    print(f"sweep: {len(result.ran)} run(s) finished now, {len(result.earlier)} earlier, {len(result.failed)} failed, "
          f"in {result.seconds:.0f} s; tables: {sweep.out / TABLES}")
    if result.interrupted:
        return 130
    return 1 if result.failed else 0


def status(directory: str, watch: bool, interval: float) -> int:
    from pathlib import Path

    from xling.sweep.state import driver_alive, status_text

    out = Path(directory)
    text = status_text(out)
    print(text, flush=True)
    tty = sys.stdout.isatty()
    while watch and driver_alive(out):
        time.sleep(interval)
        new = status_text(out)
        if tty:  # redraw in place
            sys.stdout.write(f"\033[{text.count(chr(10)) + 1}F\033[J")
        print(new, flush=True)
        text = new
    return 0
