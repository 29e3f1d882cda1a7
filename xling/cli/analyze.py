"""``xling analyze layers``: per-layer retrieval accuracy, parallel-vs-random cosine and CKA, JSON + plots."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("analyze", help="analyses of an encoder (layers: what each layer knows)")
    kinds = parser.add_subparsers(dest="analysis", metavar="ANALYSIS")
    kinds.required = True
    layers = kinds.add_parser(
        "layers", help="per layer: Tatoeba retrieval accuracy, cosine of parallel vs non-parallel pairs, linear CKA",
        description="For every hidden state and language: retrieval accuracy (both directions), mean cosine of "
                    "parallel against non-parallel sentence pairs, and linear CKA with English; writes layers.json "
                    "and one plot per measure, and suggests a fusion layer per task (a heuristic).",
    )
    model = layers.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", help="Hugging Face encoder id or checkpoint directory")
    model.add_argument("--run", metavar="RUN_DIR", help="a run of xling train: analyse its fine-tuned encoder")
    layers.add_argument("--data-dir", help="folder holding tatoeba.xxx-eng.xxx files (default: the hub)")
    layers.add_argument("--source", default="auto", choices=("auto", "local", "hub"))
    layers.add_argument("--languages", default="", metavar="A,B,...",
                        help="languages (default: the 36 XTREME languages; 'all': every language in --data-dir)")
    layers.add_argument("--max-sentences", type=int, metavar="N", help="seeded random subset of pairs per language")
    layers.add_argument("--max-seq-length", type=int, default=128)
    layers.add_argument("--batch-size", type=int, default=64)
    layers.add_argument("--missing-languages", choices=("error", "skip"), default="error")
    layers.add_argument("--output", required=True, metavar="DIR", help="where layers.json and the plots go")
    layers.add_argument("--quiet", action="store_true", help="no progress bars")
    layers.set_defaults(func=run_layers)


def run_layers(args: argparse.Namespace) -> int:
    from xling.cli._common import setup_logging
    from xling.retrieval.analysis import analyze_layers, save_analysis
    from xling.retrieval.embed import load_sentence_encoder
    from xling.retrieval.tatoeba import RetrievalConfig, load_requested_bitexts

    setup_logging(args.quiet)
    cfg = RetrievalConfig(model=args.model, run=args.run, data_dir=args.data_dir, source=args.source,
                          languages=[x.strip() for x in args.languages.split(",") if x.strip()],
                          missing_languages=args.missing_languages, max_sentences=args.max_sentences,
                          max_seq_length=args.max_seq_length, batch_size=args.batch_size, quiet=args.quiet)
    bitexts, _ = load_requested_bitexts(cfg)
    encoder = load_sentence_encoder(model=args.model, run=args.run, max_length=args.max_seq_length,
                                    batch_size=args.batch_size, progress=not args.quiet)
    analysis = analyze_layers(encoder, bitexts)
    written = save_analysis(analysis, args.output)
    suggestion = analysis.suggested_fusion_layer
    mean = analysis.mean("retrieval")
    print("layer  retrieval  cosine-gap  CKA")
    for layer, (r, g, c) in enumerate(zip(mean, analysis.mean("cosine_gap"), analysis.mean("cka"))):
        print(f"{layer:5d}  {r:9.1f}  {g:10.3f}  {c:.3f}")
    if suggestion.get("all"):
        print(f"suggested fusion layer ({suggestion['heuristic']}): {suggestion['all']['layer']}")
        per_task = ", ".join(f"{name} {s['layer']}" for name, s in suggestion["tasks"].items())
        print(f"per task: {per_task}")
    for path in written.values():
        print(f"wrote {path}")
    return 0
