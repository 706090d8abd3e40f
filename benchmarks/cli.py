"""`videoedge bench`: the benchmarks from the one command line (argparse only at import time;
torch, onnxruntime and matplotlib are imported when the subcommand runs)."""

from __future__ import annotations


def register(sub) -> None:
    from .latency import add_arguments  # argparse-only at import time

    p = sub.add_parser(
        "bench", help="PyTorch vs every ONNX variant: latency, memory, accuracy, chart",
        description="Time PyTorch eager/compile and every ONNX file of a bundle on the same "
                    "real clips, interleaved, after warm-up; write latency.{md,csv,json,png}. "
                    "Same arguments as `python benchmarks/latency.py`; with no model given, "
                    "the inputs are made first under --work (see --prepare).")
    add_arguments(p)
    p.set_defaults(handler=_handle, extra="train,export")


def _handle(args) -> int:
    import sys

    from .latency import run_from_args

    argv = sys.argv[sys.argv.index("bench") + 1:] if "bench" in sys.argv else []
    return run_from_args(args, argv)
