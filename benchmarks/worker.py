"""The benchmark worker: one variant in one process, driven over a JSON-lines pipe.

One process per variant keeps each variant's peak RSS its own, and lets the parent interleave
variants (A B C A B C ...) while every model stays loaded: the parent sends a command, one
worker runs, the others wait on their pipes. An ONNX Runtime worker never imports torch.

    python -m videoedge.benchmarks.worker --variant JSON --clips CLIPS.npy --threads N

Commands (one JSON object per line on stdin; one reply per line on the protocol pipe):
    {"cmd": "time", "batch": B, "calls": K}         -> {"ok": true, "times": [s, ...]}
    {"cmd": "predict", "clips": F, "out": F, "batch": B} -> {"ok": true, "n": N}
    {"cmd": "exit"}                                  -> {"ok": true, "peak_rss_mb": ...}
The first reply, after loading, is {"ok": true, "event": "ready", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable

import numpy as np


def rss_mb() -> float:
    """Current resident set size of this process, MiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB.

    VmHWM of /proc/self/status, the high-water mark of this program's own memory: ru_maxrss
    is not used because Linux carries the parent's peak across fork + exec into it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except (OSError, ValueError, IndexError):
        pass
    scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 2**10  # KiB on Linux, B on macOS
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class Runner:
    """prepare(batch ndarray) -> backend input (untimed); run(prepared) -> logits ndarray."""

    def __init__(self, prepare: Callable, run: Callable, info: dict):
        self.prepare, self.run, self.info = prepare, run, info


def torch_runner(variant: dict, threads: int) -> Runner:
    import torch
    from transformers import VideoMAEForVideoClassification

    torch.set_num_threads(threads)
    model = VideoMAEForVideoClassification.from_pretrained(variant["path"]).eval()
    device = torch.device("cuda" if variant["device"] == "cuda" else "cpu")
    dtype = torch.float16 if variant["precision"] == "fp16" else torch.float32
    if device.type == "cuda":  # guarded: only reached on a machine with a CUDA device
        model = model.to(device=device, dtype=dtype)
    if variant.get("compile"):
        model = torch.compile(model)
    info = {"library": f"torch {torch.__version__}", "threads": torch.get_num_threads(),
            "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                            else "cpu")}

    def prepare(x: np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return t.pin_memory() if device.type == "cuda" else t

    def run(t) -> np.ndarray:  # host to host: the copy to the GPU and back is included
        with torch.inference_mode():
            if device.type == "cuda":
                t = t.to(device, dtype=dtype, non_blocking=True)
            logits = model(pixel_values=t).logits
            return logits.float().cpu().numpy()

    return Runner(prepare, run, info)


ORT_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
                 "tensorrt": "TensorrtExecutionProvider"}


def ort_runner(variant: dict, threads: int, cache_dir: str) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    device = variant["device"]
    providers: list = ["CPUExecutionProvider"]
    if device == "cuda":  # guarded: only reached when onnxruntime-gpu reports CUDA
        providers = [("CUDAExecutionProvider", {}), "CPUExecutionProvider"]
    elif device == "tensorrt":
        trt = {"trt_fp16_enable": variant["precision"] == "fp16",
               "trt_engine_cache_enable": True, "trt_engine_cache_path": cache_dir}
        providers = [("TensorrtExecutionProvider", trt), ("CUDAExecutionProvider", {}),
                     "CPUExecutionProvider"]
    session = ort.InferenceSession(variant["path"], sess_options=options, providers=providers)
    got = session.get_providers()
    if got[0] != ORT_PROVIDERS[device]:  # ORT falls back silently; a benchmark must not
        raise RuntimeError(f"asked for {ORT_PROVIDERS[device]} but the session runs on "
                           f"{got[0]}: check the CUDA/cuDNN/TensorRT libraries")
    inp = session.get_inputs()[0]
    out_name = session.get_outputs()[0].name
    dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
    info = {"library": f"onnxruntime {ort.__version__}", "threads": threads,
            "providers": got, "input_dtype": np.dtype(dtype).name}

    def prepare(x: np.ndarray) -> np.ndarray:  # an fp16 model's input cast is done here,
        return np.ascontiguousarray(x, dtype=dtype)  # once, outside the timed call

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run([out_name], {inp.name: x})[0], dtype=np.float32)

    return Runner(prepare, run, info)


class Worker:
    def __init__(self, runner: Runner, clips: np.ndarray):
        self.runner = runner
        self.clips = clips  # (K, T, 3, H, W) float32: the same clips for every variant
        self.batches: dict[int, list] = {}  # batch size -> prepared inputs, cycled through
        self.cursor: dict[int, int] = {}

    def batches_of(self, size: int) -> list:
        if size not in self.batches:
            k = len(self.clips)
            self.batches[size] = [
                self.runner.prepare(np.stack([self.clips[(i * size + j) % k]
                                              for j in range(size)]))
                for i in range(k)]
            self.cursor[size] = 0
        return self.batches[size]

    def time(self, batch: int, calls: int) -> list[float]:
        inputs = self.batches_of(batch)
        times = []
        for _ in range(calls):
            x = inputs[self.cursor[batch] % len(inputs)]
            self.cursor[batch] += 1
            t0 = time.perf_counter()
            self.runner.run(x)
            times.append(time.perf_counter() - t0)
        return times

    def predict(self, clips_path: str, out_path: str, batch: int) -> int:
        clips = np.load(clips_path, mmap_mode="r")
        logits = [self.runner.run(self.runner.prepare(np.asarray(clips[i:i + batch])))
                  for i in range(0, len(clips), batch)]
        np.save(out_path, np.concatenate(logits).astype(np.float32))
        return len(clips)


def serve(args, proto) -> int:
    def reply(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    variant = json.loads(args.variant)
    rss_before = rss_mb()
    t0 = time.perf_counter()
    try:
        if variant["backend"] == "torch":
            runner = torch_runner(variant, args.threads)
        else:
            runner = ort_runner(variant, args.threads, args.cache_dir)
        clips = np.load(args.clips)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which records the row
        reply({"ok": False, "error": f"{type(e).__name__}: {e}".splitlines()[0]})
        return 1
    worker = Worker(runner, clips)
    reply({"ok": True, "event": "ready", "load_s": time.perf_counter() - t0,
           "rss_before_load_mb": rss_before, "rss_after_load_mb": rss_mb(),
           "torch_imported": "torch" in sys.modules, **runner.info})
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "time":
                reply({"ok": True, "times": worker.time(int(cmd["batch"]), int(cmd["calls"]))})
            elif cmd["cmd"] == "predict":
                n = worker.predict(cmd["clips"], cmd["out"], int(cmd["batch"]))
                reply({"ok": True, "n": n})
            elif cmd["cmd"] == "exit":
                reply({"ok": True, "peak_rss_mb": peak_rss_mb(), "rss_mb": rss_mb()})
                return 0
            else:
                reply({"ok": False, "error": f"unknown command {cmd['cmd']!r}"})
        except Exception as e:  # noqa: BLE001 - reported to the parent, which records the row
            reply({"ok": False, "error": f"{type(e).__name__}: {e}".splitlines()[0]})
    return 0


def exit_with_parent(interval: float = 1.0) -> None:
    """End this worker when the benchmark that started it is gone (killed, crashed): a
    background thread watches the parent pid, so no orphan keeps a model and a core busy."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one benchmark variant, driven over a pipe")
    parser.add_argument("--variant", required=True, help="the Variant as JSON")
    parser.add_argument("--clips", required=True, help=".npy of timing clips (K,T,3,H,W)")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--cache-dir", default=".", help="TensorRT engine cache")
    args = parser.parse_args(argv)
    exit_with_parent()
    # the protocol gets a private copy of stdout; stray prints from libraries go to stderr
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    return serve(args, proto)


if __name__ == "__main__":
    sys.exit(main())
