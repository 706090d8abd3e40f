"""The floor: how fast a clip could possibly go on this machine.

FLOPs of one forward pass at batch 1, counted two ways that must agree: torch's
`FlopCounterMode` (matmul, conv, attention; 1 multiply-add = 2 FLOPs) and an analytic count
of VideoMAE's GEMMs from its config. Elementwise work (softmax, LayerNorm, GELU) is in
neither: it is a few percent, and it is why no variant reaches the floor.
Divided by the fp32 GEMM peak measured on this machine, in the same run, with the same
thread count, that gives the floor in seconds; each variant's p50 is reported as a multiple.
The floor is an fp32 one: int8 GEMMs have their own, higher peak, so an int8 variant can
beat 1.0x without breaking physics.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass


@dataclass
class FlopCount:
    counted: float  # FLOPs at batch 1 from torch.utils.flop_counter.FlopCounterMode
    analytic: float  # FLOPs at batch 1 from the VideoMAE GEMM formula below
    tokens: int  # sequence length: (T / tubelet) * (H / patch) * (W / patch)

    @property
    def flops(self) -> float:
        """The figure the floor uses: the counter's."""
        return self.counted

    @property
    def rel_diff(self) -> float:
        return abs(self.counted - self.analytic) / self.analytic

    def to_dict(self) -> dict:
        return {**asdict(self), "flops": self.flops, "macs": self.flops / 2,
                "rel_diff": self.rel_diff}


def analytic_flops(config) -> tuple[float, int]:
    """GEMM FLOPs of VideoMAEForVideoClassification at batch 1 (2 per multiply-add), biases
    and elementwise ops left out; and the token count."""
    t = config.num_frames // config.tubelet_size
    n = t * (config.image_size // config.patch_size) ** 2
    d, i = config.hidden_size, config.intermediate_size
    patch = n * d * (config.num_channels * config.tubelet_size * config.patch_size ** 2)
    layer = n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * i  # qkv, attn, proj, mlp
    head = d * config.num_labels
    return 2.0 * (patch + config.num_hidden_layers * layer + head), n


def count_flops(model_dir) -> FlopCount:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import VideoMAEForVideoClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # eager attention: the counter has no formula for CPU's fused SDPA kernel and would miss
    # the attention matmuls (a quarter of VideoMAE-base's FLOPs); eager spells them out
    model = VideoMAEForVideoClassification.from_pretrained(
        model_dir, attn_implementation="eager").eval()
    c = model.config
    x = torch.zeros(1, c.num_frames, c.num_channels, c.image_size, c.image_size)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(pixel_values=x)
    analytic, tokens = analytic_flops(c)
    return FlopCount(float(counter.get_total_flops()), analytic, tokens)


@dataclass
class GemmPeak:
    gflops: float  # the best median over the shapes below: this machine's fp32 GEMM peak
    threads: int  # torch intra-op threads it was measured with
    shapes: dict  # "MxKxN" -> median GFLOP/s over `reps` calls
    library: str  # which GEMM: torch's (MKL/oneDNN)

    def to_dict(self) -> dict:
        return asdict(self)


def gemm_peak(threads: int, shapes: list[tuple[int, int, int]] | None = None,
              reps: int = 5, min_seconds: float = 0.05) -> GemmPeak:
    """fp32 GEMM throughput with torch at `threads` threads: median of `reps` timed calls per
    shape after a warm-up, each call repeated until it takes `min_seconds`."""
    import statistics

    import torch

    torch.set_num_threads(threads)
    shapes = shapes or [(2048, 2048, 2048)]
    results = {}
    with torch.inference_mode():
        for m, k, n in shapes:
            a, b = torch.randn(m, k), torch.randn(k, n)
            torch.mm(a, b)  # warm-up: thread pool, page faults
            t0 = time.perf_counter()
            torch.mm(a, b)
            inner = max(1, int(min_seconds / max(time.perf_counter() - t0, 1e-6)))
            rates = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for _ in range(inner):
                    torch.mm(a, b)
                rates.append(2.0 * m * k * n * inner / (time.perf_counter() - t0) / 1e9)
            results[f"{m}x{k}x{n}"] = statistics.median(rates)
    return GemmPeak(max(results.values()), threads, results,
                    f"torch {torch.__version__} fp32 mm")


def model_gemm_shapes(config) -> list[tuple[int, int, int]]:
    """The model's own largest GEMMs at batch 1 (MLP in and out) plus a square one."""
    _, n = analytic_flops(config)
    d, i = config.hidden_size, config.intermediate_size
    return [(2048, 2048, 2048), (n, d, i), (n, i, d)]


def measure(model_dir, threads: int, flops: bool = True) -> dict:
    """FLOPs of the model (optional), the GEMM peak with its shapes, and whether torch sees a
    CUDA device: everything the parent needs from torch, so it can run this in a child."""
    import torch
    from transformers import AutoConfig

    out = {"gemm": gemm_peak(threads, model_gemm_shapes(
        AutoConfig.from_pretrained(model_dir))).to_dict(), "cuda": torch.cuda.is_available()}
    if flops:
        out["flops"] = asdict(count_flops(model_dir))
    return out


def measure_in_child(model_dir, threads: int, flops: bool = True, timeout: float = 900) -> dict:
    """`measure` in a fresh process with the benchmark's thread settings: the GEMM peak is
    taken like every variant's timing, and the parent never holds torch or a model."""
    import json
    import os
    import subprocess
    import sys

    from .process import THREAD_ENV, WorkerError

    env = {**os.environ, **{k: str(threads) for k in THREAD_ENV}}
    cmd = [sys.executable, "-m", "videoedge.benchmarks.floor", str(model_dir), str(threads)]
    if not flops:
        cmd.append("--no-flops")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise WorkerError(f"measuring FLOPs and the GEMM peak failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    import json
    import sys

    args = sys.argv[1:]
    result = measure(args[0], int(args[1]), flops="--no-flops" not in args)
    print(json.dumps(result))
