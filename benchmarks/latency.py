"""PyTorch vs every ONNX variant, side by side: latency, throughput, memory, accuracy.

    python benchmarks/latency.py --model RUN/model --bundle BUNDLE --data DATA \
        [--base-model BASE/model --base-bundle BASE_BUNDLE] [--out benchmarks/results]
    (--bundle and --base-bundle repeat: one export writes one int8 file, dynamic or static,
    so the static one comes from a second export of the same model)
    videoedge bench ...            (the same arguments)

Python API: `run(BenchConfig(...)) -> report dict` (and the files in `config.out`).
See benchmarks/README.md for the method and the latest table.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/latency.py`: use the installed package
    __package__ = "videoedge.benchmarks"
    import videoedge.benchmarks  # noqa: F401

from videoedge.runtime.errors import UsageError, VideoedgeError

from . import config as cfgmod
from .config import BenchConfig, ModelBench

QUICK = {"warmup": 1, "rounds": 3, "calls_per_turn": 2, "batch_rounds": 1, "timing_clips": 2}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, help="trained model directory (RUN/model)")
    p.add_argument("--bundle", type=Path, action="append",
                   help="its bundle from `videoedge export` (repeat for a second export, "
                        "e.g. the --int8 static one)")
    p.add_argument("--base-model", type=Path,
                   help="a VideoMAE-base-sized model directory (random init unless "
                        "--base-trained)")
    p.add_argument("--base-bundle", type=Path, action="append",
                   help="its bundle(s) from `videoedge export` (repeatable)")
    p.add_argument("--base-trained", action="store_true",
                   help="the base-sized model has trained weights: report its accuracy")
    p.add_argument("--data", type=Path, help="dataset root: clips come from DATA/test "
                                              "(without it: random-noise clips, no accuracy)")
    p.add_argument("--split", default="test", help="dataset split for the clips (test)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"),
                   help="output folder for latency.{md,csv,json,png} (benchmarks/results)")
    p.add_argument("--readme", type=Path, default=None,
                   help="README whose results section is replaced (default: "
                        "benchmarks/README.md when --out is benchmarks/results)")
    p.add_argument("--threads", type=int, default=cfgmod.physical_cores(),
                   help="intra-op threads for every variant (default: physical cores)")
    p.add_argument("--variants", help="comma-separated subset, e.g. "
                                      "ort-cpu-fp32,ort-cpu-int8-dynamic (eager always runs)")
    p.add_argument("--no-compile", action="store_true", help="leave out torch.compile")
    p.add_argument("--max-runs", type=int, default=3,
                   help="rerun until two consecutive runs agree, at most this many (3)")
    p.add_argument("--tolerance", type=float, default=0.10,
                   help="runs agree when every batch-1 p50 is within this fraction (0.10)")
    p.add_argument("--prepare", action="store_true",
                   help="make the missing inputs under --work first (train tiny, export it "
                        "twice, export_base.py); implied when no model is given. With --model "
                        "and no --bundle, that model is exported instead of training one")
    p.add_argument("--work", type=Path, default=Path("runs/bench"),
                   help="work folder for --prepare (runs/bench)")
    p.add_argument("--no-base", action="store_true",
                   help="with --prepare: leave out the VideoMAE-base-sized model")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: few rounds, one run (figures not for quoting)")
    p.add_argument("--wait-quiet", type=float, default=None, metavar="LOAD",
                   help="before each model, wait until the 1-min load average is below LOAD; "
                        "still busy after --wait-max-s: stop, measure nothing (exit 2)")
    p.add_argument("--wait-max-s", type=float, default=900.0,
                   help="give up waiting for a quiet machine after this long (900)")


def prepare_inputs(args: argparse.Namespace, log=None) -> None:
    """--prepare (or no model given): make the inputs under --work and point the arguments
    at them; explicit --model/--bundle/--base-* arguments are kept."""
    if not (args.prepare or (args.model is None and args.base_model is None)):
        return
    from .prepare import prepare
    from .runner import stderr_log

    log = log or stderr_log
    log(f"preparing the benchmark inputs under {args.work} (existing ones are reused)")
    inputs = prepare(args.work, args.data, log, base=not args.no_base,
                     tiny_model=args.model if not args.bundle else None)
    args.data = args.data or inputs.data
    if not args.bundle:
        args.model, args.bundle = inputs.tiny_model, inputs.tiny_bundles
    if args.base_model is None and not args.no_base:
        args.base_model, args.base_bundle = inputs.base_model, inputs.base_bundles


def small_label(model: Path) -> str:
    """"tiny preset, trained" from the contract's source; the folder name otherwise."""
    from videoedge.runtime.contract import Contract

    try:
        source = Contract.load(model).source
    except VideoedgeError:
        source = ""
    if source.startswith("preset:"):
        return f"{source.split(':', 1)[1]} preset, trained"
    return ""  # ModelBench names it after its folder


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    quick = QUICK if args.quick else {}
    models: list[ModelBench] = []
    if (args.model is None) != (args.bundle is None):
        raise UsageError("--model needs its --bundle (the PyTorch model and its export); or add "
                         "--prepare to export it here")
    if (args.base_model is None) != (args.base_bundle is None):
        raise UsageError("--base-model and --base-bundle go together")
    if args.model is not None:
        models.append(cfgmod.small(args.model, args.bundle[0], more_bundles=args.bundle[1:],
                                   label=small_label(args.model), **quick))
    if args.base_model is not None:
        label = "VideoMAE-base size, " + ("trained" if args.base_trained else "random init")
        models.append(cfgmod.base(args.base_model, args.base_bundle[0],
                                  more_bundles=args.base_bundle[1:], label=label,
                                  trained=args.base_trained,
                                  eval_clips=None if args.base_trained else 0,
                                  **{k: v for k, v in quick.items() if k != "timing_clips"}))
    readme = args.readme
    if readme is None and args.out.resolve() == (Path(__file__).parent / "results").resolve():
        readme = Path(__file__).parent / "README.md"
    variants = tuple(v.strip() for v in args.variants.split(",")) if args.variants else None
    return BenchConfig(models=models, data=args.data, out=args.out, split=args.split,
                       threads=args.threads, variants=variants, compile=not args.no_compile,
                       max_runs=1 if args.quick else args.max_runs, tolerance=args.tolerance,
                       readme=readme, wait_quiet=args.wait_quiet, wait_max_s=args.wait_max_s)


class BusyMachineError(UsageError):
    """The machine never got quiet enough to measure: nothing was written."""


def wait_for_quiet(limit: float, max_s: float, log, strict: bool = True) -> dict:
    """Wait until the 1-min load average is below `limit`; still busy after `max_s`: raise
    (strict: before anything is measured) or carry on, marked busy."""
    from .machine import load_average

    t0 = time.monotonic()
    load = load_average()
    while load >= limit and time.monotonic() - t0 < max_s:
        log(f"waiting for a quiet machine: 1-min load average {load} >= {limit}")
        time.sleep(min(30.0, max(1.0, max_s - (time.monotonic() - t0))))
        load = load_average()
    if load >= limit and strict:
        raise BusyMachineError(
            f"the machine stayed busy: 1-min load average {load} >= {limit} after "
            f"{max_s:.0f} s; nothing was measured or written; rerun when it is quiet (or "
            "raise --wait-max-s)")
    return {"limit": limit, "load": load, "quiet": load < limit,
            "waited_s": round(time.monotonic() - t0, 1)}


def target_line(rows: list[dict], target: float | None) -> str | None:
    """The int8 dynamic vs ORT fp32 verdict, when the model has a target."""
    by = {r["variant"]: r for r in rows}
    ratio = by.get("ort-cpu-int8-dynamic", {}).get("x_ort_fp32")
    if ratio is None or target is None:
        return None
    verdict = "met" if ratio <= target else "NOT met"
    return (f"Target (this model, this CPU): int8 dynamic <= {target:.2f}x ORT fp32. "
            f"Measured {ratio:.2f}x (batch-1 p50s): **{verdict}**.")


def run(cfg: BenchConfig, *, command: str = "", log=None) -> dict:
    """Benchmark every model of `cfg`, write the files, return the report (as in the JSON)."""
    from . import machine as machine_info
    from . import report as reportmod
    from .runner import bench_model, rows, stderr_log
    from .stats import summarize

    log = log or stderr_log
    machine = machine_info.describe(cfg.threads)
    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": command,
              "machine": machine, "config": _jsonable(asdict(cfg)), "models": []}
    for mb in cfg.models:
        quiet = (wait_for_quiet(cfg.wait_quiet, cfg.wait_max_s, log,
                                strict=not report["models"])
                 if cfg.wait_quiet is not None else None)
        result = bench_model(mb, cfg, log)
        model_rows = rows(result, cfg, machine)
        gemm = result.gemm[-1]
        floor_s = result.flops.flops / (gemm["gflops"] * 1e9)
        raw = {name: {"p5_ms": summarize(r.times_b1).p5 * 1e3}
               for name, r in result.final.items() if r.ok}
        report["models"].append({
            "label": mb.label, "model": str(mb.model), "bundle": ", ".join(map(str, mb.bundles)),
            "trained": mb.trained,
            "input": "x".join(map(str, result.contract.input_shape(1)[1:])) + " (T,C,H,W)",
            "flops": result.flops.to_dict(), "gemm": result.gemm, "floor_s": floor_s,
            "timing_source": result.timing_source, "eval_source": result.eval_source,
            "timing": (f"{mb.warmup} warm-up call(s) per variant and batch size, then "
                       f"{mb.rounds} interleaved rounds x {mb.calls_per_turn} batch-1 call(s), "
                       f"and {mb.batch_rounds} round(s) x 1 call at batch {mb.batch}"),
            "quiet": quiet, "load_avg": result.load_avg,
            "other_cpu_cores": result.other_cpu,
            "busy_cores": 0.25,  # other processes using more than this during a run: busy
            "agreements": [dict(asdict(a), relative_diff=a.relative_diff, ok=a.ok)
                           for a in result.agreements],
            "stable": result.stable, "tolerance": cfg.tolerance,
            "rows": model_rows, "raw": raw,
            "target": target_line(model_rows, mb.target_int8),
            "runs": [{name: {"ok": r.ok, "error": r.error, "ready": r.ready, "exit": r.exit,
                             "warmup_b1_s": r.warmup_b1, "times_b1_s": r.times_b1,
                             "times_batch_s": r.times_batch}
                      for name, r in run_.items()} for run_ in result.runs],
        })
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    paths = reportmod.write_all(report, cfg.out, cfg.readme)
    log("wrote " + ", ".join(str(p) for p in paths.values())
        + (f" and {cfg.readme}" if cfg.readme else ""))
    return report


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def run_from_args(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    prepare_inputs(args)
    cfg = config_from_args(args)
    command = "python benchmarks/latency.py " + shlex.join(argv if argv is not None
                                                           else sys.argv[1:])
    report = run(cfg, command=command)
    unstable = [m["label"] for m in report["models"] if cfg.max_runs > 1 and not m["stable"]]
    # a failed variant makes the exit status 1, except torch.compile, whose availability
    # depends on the machine's compiler toolchain (its row says why it failed)
    failed = [f"{m['label']}: {r['variant']}" for m in report["models"] for r in m["rows"]
              if r["status"].startswith("failed") and r["variant"] != "pytorch-compile-fp32"]
    for line in ([f"not stable within {cfg.tolerance:.0%}: {', '.join(unstable)}"]
                 if unstable else []) + [f"failed: {f}" for f in failed]:
        print(f"bench: {line}", file=sys.stderr)
    return 1 if failed or unstable else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/latency.py",
                                     description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        return run_from_args(args, argv)
    except VideoedgeError as e:
        if args.debug:
            raise
        print(f"bench: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
