"""One benchmark, end to end: clips -> floor -> workers -> warm-up -> interleaved rounds ->
accuracy -> rows; repeated until two consecutive runs agree.

Every variant's worker is started and kept loaded for the whole run; the rounds then visit
them in a fixed order (A B C A B C ...), one at a time, so they all see the same machine
state. A run is a fresh set of processes: rerunning repeats loading and warm-up too."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from videoedge.runtime.contract import Contract
from videoedge.runtime.errors import UsageError

from . import clips as clipsets
from . import machine as machine_info
from .config import ORT_BASELINE, REFERENCE_VARIANT, BenchConfig, ModelBench
from .floor import FlopCount, measure_in_child
from .process import WorkerError, WorkerProcess
from .stats import compare_runs, interleaved_schedule, runs_agree, summarize
from .variants import Skipped, Variant, discover, onnx_file_mb, select

Log = Callable[[str], None]


def stderr_log(line: str) -> None:
    print(f"bench: {line}", file=sys.stderr, flush=True)


@dataclass
class VariantRun:
    """What one run measured for one variant (raw times kept for the JSON)."""

    variant: Variant
    ready: dict = field(default_factory=dict)  # the worker's ready reply (load_s, rss, library)
    warmup_b1: list[float] = field(default_factory=list)  # seconds, first one incl. compile
    times_b1: list[float] = field(default_factory=list)  # timed batch-1 calls, seconds
    times_batch: list[float] = field(default_factory=list)  # timed larger-batch calls, seconds
    logits: np.ndarray | None = None  # on the accuracy clips
    exit: dict = field(default_factory=dict)  # the worker's exit reply (peak_rss_mb)
    error: str = ""  # why the variant failed; "" when it ran

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.times_b1)


@dataclass
class ModelResult:
    bench: ModelBench
    contract: Contract
    flops: FlopCount
    gemm: list[dict]  # one GemmPeak dict per run
    timing_source: str  # how the timing clips were made
    eval_source: str  # how the accuracy clips were made
    eval_labels: np.ndarray  # label ids (-1 unknown)
    runs: list[dict[str, VariantRun]]  # by variant name, one dict per run
    skipped: list[Skipped]
    load_avg: list[tuple[float, float]]  # 1-min load average (start, end) of each run
    other_cpu: list[float] = field(default_factory=list)  # cores other processes used, per run
    agreements: list = field(default_factory=list)  # stats.Agreement of the last two runs
    stable: bool = False  # the last two runs agree within the tolerance

    @property
    def final(self) -> dict[str, VariantRun]:
        return self.runs[-1]


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower() or "model"


def load_contract(mb: ModelBench) -> Contract:
    for where in (mb.bundle, mb.model):
        if (where / "videoedge.json").is_file():
            return Contract.load(where)
    raise UsageError(f"neither {mb.bundle} nor {mb.model} has a videoedge.json; pass a bundle "
                     "from `videoedge export` and a model from `videoedge train`")


def check_paths(mb: ModelBench) -> None:
    if not (mb.model / "config.json").is_file():
        raise UsageError(f"{mb.model} is not a model directory (no config.json); pass RUN/model "
                         "from `videoedge train`")
    for bundle in mb.bundles:
        if not bundle.is_dir() or not any(bundle.glob("*.onnx")):
            raise UsageError(f"{bundle} has no .onnx files; make it with `videoedge export "
                             f"{mb.model} --out {bundle} --fp16 --int8 dynamic`")


def prepare_clips(mb: ModelBench, cfg: BenchConfig, contract: Contract, work: Path,
                  log: Log) -> tuple[Path, Path, clipsets.ClipSet, str]:
    """Write the timing clips and the accuracy clips as .npy; return their paths, the
    accuracy clip set and how the timing clips were made."""
    work.mkdir(parents=True, exist_ok=True)
    if cfg.data is None:
        timing = clipsets.noise_clips(contract, mb.timing_clips)
        evalset = timing
    else:
        want_eval = mb.eval_clips != 0
        limit = None if want_eval and mb.eval_clips is None else (
            max(mb.eval_clips or 0, mb.timing_clips))
        log(f"[{mb.label}] decoding clips from {cfg.data / cfg.split}")
        allclips = clipsets.real_clips(cfg.data, cfg.split, contract, limit)
        timing = clipsets.cycle_to(allclips, mb.timing_clips)
        timing.source = (f"{mb.timing_clips} real clips (centre clips of {cfg.split} videos "
                         "across classes)")
        evalset = allclips if want_eval else timing
    timing_path, eval_path = work / "timing_clips.npy", work / "eval_clips.npy"
    np.save(timing_path, timing.clips)
    np.save(eval_path, evalset.clips)
    return timing_path, eval_path, evalset, timing.source


def run_once(mb: ModelBench, cfg: BenchConfig, variants: list[Variant], timing: Path,
             evalclips: Path, work: Path, log: Log) -> dict[str, VariantRun]:
    runs = {v.name: VariantRun(v) for v in variants}
    workers: dict[str, WorkerProcess] = {}

    def fail(name: str, e: Exception) -> None:
        runs[name].error = str(e)
        log(f"[{mb.label}] {name} FAILED: {e}")
        if name in workers:
            workers.pop(name).kill()

    try:
        for v in variants:  # load one at a time: loading in parallel would contend
            try:
                workers[v.name] = WorkerProcess(v, timing, cfg.threads, work / "logs" /
                                                f"{v.name}.log", work / "trt-cache")
                runs[v.name].ready = workers[v.name].ready
                log(f"[{mb.label}] {v.name}: loaded in {runs[v.name].ready['load_s']:.1f} s")
            except WorkerError as e:
                fail(v.name, e)
        if mb.warmup:
            for name in list(workers):  # compile happens here, on the first calls
                try:
                    runs[name].warmup_b1 = workers[name].time(1, mb.warmup)
                    workers[name].time(mb.batch, mb.warmup)
                    log(f"[{mb.label}] {name}: warm, first call "
                        f"{runs[name].warmup_b1[0]:.3f} s")
                except WorkerError as e:
                    fail(name, e)
        for batch, rounds, calls, key in ((1, mb.rounds, mb.calls_per_turn, "times_b1"),
                                          (mb.batch, mb.batch_rounds, 1, "times_batch")):
            log(f"[{mb.label}] batch {batch}: {rounds} interleaved rounds x "
                f"{len(workers)} variants x {calls} call(s)")
            for _, name in interleaved_schedule(list(workers), rounds):
                if name not in workers:
                    continue
                try:
                    getattr(runs[name], key).extend(workers[name].time(batch, calls))
                except WorkerError as e:
                    fail(name, e)
                time.sleep(cfg.gap_s)
        for name in list(workers):
            try:
                out = work / f"logits-{name}.npy"
                workers[name].predict(evalclips, out, mb.batch)
                runs[name].logits = np.load(out)
            except WorkerError as e:
                fail(name, e)
        for name in list(workers):
            runs[name].exit = workers.pop(name).close()
    finally:
        for w in workers.values():
            w.kill()
    return runs


def p50s(runs: dict[str, VariantRun]) -> dict[str, float]:
    return {name: summarize(r.times_b1).p50 for name, r in runs.items() if r.ok}


def bench_model(mb: ModelBench, cfg: BenchConfig, log: Log = stderr_log) -> ModelResult:
    check_paths(mb)
    contract = load_contract(mb)
    work = Path(cfg.work) / slug(mb.label)
    timing, evalclips, evalset, timing_source = prepare_clips(mb, cfg, contract, work, log)
    log(f"[{mb.label}] counting FLOPs, measuring the GEMM peak")
    first = measure_in_child(mb.model, cfg.threads)
    flops = FlopCount(**first["flops"])
    import onnxruntime

    variants, skipped = discover(mb.model, mb.bundles, compile=cfg.compile,
                                 cuda=first["cuda"],
                                 ort_providers=tuple(onnxruntime.get_available_providers()))
    variants, skipped = select(variants, skipped, cfg.variants)
    result = ModelResult(mb, contract, flops, [], timing_source, evalset.source,
                         evalset.labels, [], skipped, [])
    for i in range(cfg.max_runs):
        start_load = machine_info.load_average()
        others = machine_info.OtherCpu()
        log(f"[{mb.label}] run {i + 1}/{cfg.max_runs} (load average {start_load})")
        gemm = first["gemm"] if i == 0 else measure_in_child(mb.model, cfg.threads, False)["gemm"]
        result.gemm.append(gemm)
        result.runs.append(run_once(mb, cfg, variants, timing, evalclips, work, log))
        result.load_avg.append((start_load, machine_info.load_average()))
        result.other_cpu.append(round(others.stop(), 3))
        log(f"[{mb.label}] run {i + 1} batch-1 p50: " + ", ".join(
            f"{name} {p50 * 1e3:.1f} ms" for name, p50 in p50s(result.runs[-1]).items()))
        if len(result.runs) >= 2:
            result.agreements = compare_runs(p50s(result.runs[-2]), p50s(result.runs[-1]),
                                             cfg.tolerance)
            result.stable = runs_agree(result.agreements)
            worst = max((a.relative_diff for a in result.agreements), default=float("nan"))
            log(f"[{mb.label}] run {i + 1} vs run {i}: largest p50 difference "
                f"{worst:.1%} ({'agree' if result.stable else 'do not agree'} within "
                f"{cfg.tolerance:.0%})")
            if result.stable:
                break
    return result


def file_mb(variant: Variant) -> float:
    """Size on disk of what the variant loads: the weights of a model directory, or the
    .onnx file with the external data it references."""
    path = Path(variant.path)
    if variant.backend == "torch":
        return sum(f.stat().st_size for f in path.iterdir()
                   if f.suffix in (".safetensors", ".bin") and f.is_file()) / 2**20
    return onnx_file_mb(path)


def rows(result: ModelResult, cfg: BenchConfig, machine: dict) -> list[dict]:
    """One row per variant (measured, failed or skipped), every column filled or None."""
    mb, final = result.bench, result.final
    gemm = result.gemm[-1]
    floor_s = result.flops.flops / (gemm["gflops"] * 1e9)
    base = final.get(ORT_BASELINE)
    base_p50 = summarize(base.times_b1).p50 if base is not None and base.ok else None
    ref = final.get(REFERENCE_VARIANT)
    ref_top1 = (ref.logits.argmax(1) if ref is not None and ref.logits is not None else None)
    previous = p50s(result.runs[-2]) if len(result.runs) >= 2 else {}
    labels = result.eval_labels
    env = {"machine": machine_info.short(machine), "threads": cfg.threads,
           "versions": " ".join(f"{k} {v}" for k, v in machine["versions"].items()),
           "load_avg_1min": result.load_avg[-1][0],
           "other_cpu_cores": result.other_cpu[-1] if result.other_cpu else None}
    out = []
    for name, r in final.items():
        row = {"model": mb.label, "variant": name, "backend": r.variant.backend,
               "device": r.variant.device, "precision": r.variant.precision,
               "status": "ok" if r.ok else f"failed: {r.error}",
               "library": r.ready.get("library", ""), "file_mb": file_mb(r.variant)}
        if r.ok:
            s1, sb = summarize(r.times_b1), (summarize(r.times_batch) if r.times_batch
                                             else None)
            row.update({
                "p50_ms": s1.p50 * 1e3, "p95_ms": s1.p95 * 1e3, "spread_pct": s1.spread * 100,
                "n": s1.n, "clips_per_s_b1": 1 / s1.p50,
                "batch": mb.batch,
                "p50_batch_ms": sb.p50 * 1e3 if sb else None,
                "clips_per_s_batch": mb.batch / sb.p50 if sb else None,
                "x_ort_fp32": s1.p50 / base_p50 if base_p50 else None,
                "x_floor": s1.p50 / floor_s,
                "gflops_per_s": result.flops.flops / s1.p50 / 1e9,
                "first_call_s": r.warmup_b1[0] if r.warmup_b1 else None,
                "load_s": r.ready.get("load_s"),
                "peak_rss_mb": r.exit.get("peak_rss_mb"),
                "prev_run_p50_ms": previous[name] * 1e3 if name in previous else None,
                "run_diff_pct": (abs(s1.p50 - previous[name]) / previous[name] * 100
                                 if name in previous else None),
            })
            if r.logits is not None:
                top1 = r.logits.argmax(1)
                known = labels >= 0
                row["eval_n"] = len(top1)
                row["accuracy"] = (float((top1[known] == labels[known]).mean())
                                   if mb.trained and known.any() else None)
                if ref_top1 is not None and name != REFERENCE_VARIANT:
                    row["top1_agreement"] = float((top1 == ref_top1).mean())
                    row["max_abs_logit_diff"] = float(np.abs(r.logits - ref.logits).max())
        out.append({**row, **env})
    for s in result.skipped:
        out.append({"model": mb.label, "variant": s.name, "status": f"skipped: {s.reason}",
                    **env})
    return out
