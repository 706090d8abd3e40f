"""What one benchmark run measures: a validated dataclass per model, with named presets for
the two sizes the table reports (the trained small model and a VideoMAE-base-sized one)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from videoedge.runtime.errors import UsageError

# variant names the harness knows (a bundle or machine may offer fewer)
KNOWN_VARIANTS = (
    "pytorch-eager-fp32", "pytorch-compile-fp32",
    "ort-cpu-fp32", "ort-cpu-fp16", "ort-cpu-int8-dynamic", "ort-cpu-int8-static",
    "pytorch-cuda-fp32", "pytorch-cuda-fp16",
    "ort-cuda-fp32", "ort-cuda-fp16", "ort-tensorrt-fp32", "ort-tensorrt-fp16",
)
REFERENCE_VARIANT = "pytorch-eager-fp32"  # accuracy agreement and logit diffs are against it
ORT_BASELINE = "ort-cpu-fp32"  # the "x ORT fp32" column divides by it


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


@dataclass
class ModelBench:
    """One model size: a PyTorch model directory, its exported bundle(s), and how hard to
    time it."""

    model: Path  # HF model directory (from `videoedge train`, or a random-init base-sized one)
    bundle: Path  # bundle directory from `videoedge export` (model*.onnx + videoedge.json)
    more_bundles: list[Path] = field(default_factory=list)  # other exports of the same model
    #   (one export writes one int8 file, dynamic or static: a second bundle brings the other)
    label: str = ""  # how the table names this model (e.g. "tiny (trained)")
    trained: bool = True  # False: random weights, accuracy is meaningless and not reported
    batch: int = 8  # the "larger batch" for the clips/s column
    warmup: int = 3  # untimed calls per variant and batch size before the rounds
    rounds: int = 10  # interleaved rounds at batch 1 (A B C A B C ...)
    calls_per_turn: int = 3  # timed batch-1 calls per variant per round
    batch_rounds: int = 3  # interleaved rounds at the larger batch, one call per turn
    timing_clips: int = 8  # distinct real clips cycled through by the timed calls
    eval_clips: int | None = None  # clips (one per test video) for accuracy; None = all
    #   0 = no accuracy pass: top-1 agreement is then measured on the timing clips
    target_int8: float | None = None  # int8 dynamic must be <= this x ORT fp32; None = no target

    def __post_init__(self):
        self.model, self.bundle = Path(self.model), Path(self.bundle)
        self.more_bundles = [Path(b) for b in self.more_bundles]
        for name in ("batch", "rounds", "calls_per_turn", "batch_rounds", "timing_clips"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise UsageError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise UsageError(f"warmup must be >= 0, got {self.warmup!r}")
        if self.eval_clips is not None and self.eval_clips < 0:
            raise UsageError(f"eval_clips must be >= 0 or None, got {self.eval_clips!r}")
        if not self.label:  # RUN/model -> "RUN (trained)"
            name = self.model.parent.name if self.model.name == "model" else self.model.name
            self.label = f"{name} ({'trained' if self.trained else 'random init'})"


    @property
    def bundles(self) -> list[Path]:
        return [self.bundle, *self.more_bundles]


# timing settings per size: a base-sized clip takes seconds on a 2-core CPU, a tiny one ms
SMALL = {"batch": 8, "warmup": 3, "rounds": 10, "calls_per_turn": 5, "batch_rounds": 4,
         "timing_clips": 8}
BASE = {"batch": 4, "warmup": 1, "rounds": 6, "calls_per_turn": 1, "batch_rounds": 2,
        "timing_clips": 4, "eval_clips": 0, "trained": False, "target_int8": 0.75}


def small(model, bundle, **overrides) -> ModelBench:
    return ModelBench(model, bundle, **{**SMALL, **overrides})


def base(model, bundle, **overrides) -> ModelBench:
    return ModelBench(model, bundle, **{**BASE, **overrides})


@dataclass
class BenchConfig:
    """A whole benchmark: the models, the clips, the machine settings and the stability rule."""

    models: list[ModelBench]  # one entry per model size, in table order
    data: Path | None = None  # dataset root (DATA/test/<Class>/...): real clips; None = noise
    out: Path = Path("benchmarks/results")  # where latency.{md,csv,json,png} are written
    split: str = "test"  # dataset split the clips come from
    threads: int = field(default_factory=physical_cores)  # intra-op threads, every variant
    variants: tuple[str, ...] | None = None  # only these variants; None = all available
    compile: bool = True  # include torch.compile (it compiles for minutes on the base size)
    max_runs: int = 3  # rerun until two consecutive runs agree, at most this many runs
    tolerance: float = 0.10  # two runs agree when every variant's p50 is within this
    gap_s: float = 0.05  # pause between turns, so one variant's spinning threads settle
    work: Path | None = None  # scratch (clips, worker logs); None = OUT/work
    readme: Path | None = None  # README whose results section is replaced; None = none
    wait_quiet: float | None = None  # wait for a 1-min load average below this; None = don't
    wait_max_s: float = 900.0  # give up waiting for a quiet machine after this long

    def __post_init__(self):
        if not self.models:
            raise UsageError("nothing to benchmark: give --model and --bundle (or --base-model "
                             "and --base-bundle)")
        self.out = Path(self.out)
        self.data = Path(self.data) if self.data is not None else None
        if self.data is not None and not (self.data / self.split).is_dir():
            raise UsageError(f"{self.data} has no {self.split}/ folder; pass a dataset made by "
                             "`videoedge data synth OUT` (or UCF101 layout)")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise UsageError(f"threads must be a positive integer, got {self.threads!r}")
        if self.max_runs < 1:
            raise UsageError("max_runs must be >= 1")
        if not 0 < self.tolerance < 1:
            raise UsageError(f"tolerance must be in (0, 1), got {self.tolerance}")
        if self.variants is not None:
            unknown = [v for v in self.variants if v not in KNOWN_VARIANTS]
            if unknown:
                import difflib

                near = difflib.get_close_matches(unknown[0], KNOWN_VARIANTS, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise UsageError(f"unknown variant {unknown[0]!r}{hint}; known: "
                                 f"{', '.join(KNOWN_VARIANTS)}")
            self.variants = tuple(self.variants)
        self.work = Path(self.work) if self.work is not None else self.out / "work"

    def with_models(self, models: list[ModelBench]) -> BenchConfig:
        return replace(self, models=models)
