"""Subcommands of the training stage: `data synth`, `train`, `evaluate`.

Only argparse at module level; each handler imports what it needs when it runs."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="make datasets")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    synth = data_sub.add_parser(
        "synth", help="write the synthetic UCF101-style dataset (the embedded default)",
        description="OUT/{train,val,test}/<Class>/v_<Class>_gXX_cYY.avi; default 10 classes, "
        "300/30/75 videos as the guide's UCF101 subset.",
    )
    synth.add_argument("out", help="output folder (must not exist or be empty)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--classes", type=int, default=10, help="number of classes, 2-10")
    synth.add_argument("--per-class", metavar="TRAIN,VAL,TEST",
                       help="videos per class and split, e.g. 30,3,8 (default: 300/30/75 in all)")
    synth.add_argument("--size", default="160x120", help="frame size WxH (UCF101: 320x240)")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: 2)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(handler=_synth, extra=None)



def _synth(args) -> int:
    from .synth import SynthConfig, describe, parse_counts, parse_size, synthesize

    kwargs = dict(classes=args.classes, size=parse_size(args.size), seed=args.seed)
    if args.per_class:
        kwargs["per_class"] = parse_counts(args.per_class)
    if args.workers:
        kwargs["workers"] = args.workers
    manifest = synthesize(args.out, SynthConfig(**kwargs), progress=not args.quiet)
    print(f"wrote {args.out}: {describe(manifest)}")
    return 0
