"""The `videoedge` command: a thin layer over each stage's Python API.

It lives in the always-installed runtime layer. Each stage registers its subcommands from a
small `cli.py` that imports only argparse at module level; the stage's heavy dependencies
are imported when its subcommand runs, and a missing one becomes the `pip install` line that
fixes it (exit 2). Errors are one line on stderr; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import MissingExtraError, UsageError, VideoedgeError

# top-level module -> the extra that installs it
EXTRA_OF_MODULE = {
    "torch": "train", "torchvision": "train", "transformers": "train", "accelerate": "train",
    "pytorchvideo": "train", "av": "train", "evaluate": "train", "matplotlib": "train",
    "PIL": "train", "onnx": "export", "onnxscript": "export", "onnxconverter_common": "export",
    "psutil": "dev",
}

# extra -> the top-level modules it installs (checked with find_spec: nothing is imported)
MODULES_OF_EXTRA = {
    "train": ("torch", "torchvision", "transformers", "pytorchvideo", "av", "evaluate"),
    "export": ("torch", "onnx", "onnxscript", "onnxconverter_common"),
}

# modules whose `register(subparsers)` adds subcommands, in help order
COMMAND_MODULES = (
    "videoedge.train.cli",  # data, train, evaluate
    "videoedge.export.cli",  # export
    "videoedge.runtime.cli_run",  # run
    "videoedge.benchmarks.cli",  # bench
    "videoedge.benchmarks.demo",  # demo: the whole chain (the top layer imports all stages)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videoedge",
        description="Train a video classifier, export it to ONNX, and run it at the edge.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"videoedge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # a stage not written yet: its commands are simply absent
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        _check_extras(getattr(args, "extra", None))
        result = args.handler(args)
        return int(result or 0)
    except ModuleNotFoundError as e:
        top = (e.name or "").split(".")[0]
        extra = EXTRA_OF_MODULE.get(top) or getattr(args, "extra", None)
        if extra is None or args.debug:
            raise
        return _fail(MissingExtraError(extra, top), args)
    except VideoedgeError as e:
        return _fail(e, args)
    except OSError as e:  # a path the OS refused (permissions, disk full): say which, and why
        if args.debug or not e.filename:
            raise
        return _fail(UsageError(f"cannot access {e.filename}: {e.strerror}; check that it "
                                "exists and that you may read (or write) it"), args)
    except KeyboardInterrupt:
        print("videoedge: interrupted; finished outputs were kept, partial ones removed",
              file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, not a trace
        if args.debug:
            raise
        print(f"videoedge: unexpected error: {type(e).__name__}: {e} "
              "(rerun with --debug for the traceback, and please report it)", file=sys.stderr)
        return 1


def _check_extras(extras: str | None) -> None:
    """Before any other check: a command whose extra is missing cannot run at all."""
    import importlib.util

    for extra in (extras or "").split(","):
        for module in MODULES_OF_EXTRA.get(extra, ()):
            if importlib.util.find_spec(module) is None:
                raise MissingExtraError(extras, module)


def _fail(error: VideoedgeError, args) -> int:
    if args.debug:
        raise error
    print(f"videoedge: error: {error}", file=sys.stderr)
    return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
