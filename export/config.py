"""What an export does, as validated dataclasses: `ExportConfig` (the whole run) and
`ParityLimits` (what "the same model" means for each precision).

Only the standard library here: `videoedge export --help` and config errors cost nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from videoedge.runtime.errors import UsageError

MIN_OPSET = 18  # the dynamo exporter's first opset (torch.onnx.export(dynamo=True))
MAX_OPSET = 23  # the newest opset onnxruntime 1.2x runs on CPU
INT8_MODES = ("dynamic", "static")
SPLITS = ("test", "val", "train")


@dataclass(frozen=True)
class ParityLimits:
    """Limits one variant must meet against PyTorch on the same real clips. None = no limit."""

    max_abs: float | None = None  # max |logit_onnx - logit_torch| over all clips and classes
    min_cosine: float | None = None  # mean cosine similarity of the logit vectors
    min_agreement: float | None = None  # fraction of clips whose top-1 class is the same
    max_accuracy_drop: float | None = None  # accuracy(torch) - accuracy(onnx), as a fraction

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


# Per precision (the contract's `precision` values), as issue 4 sets them. fp32 must be the
# same model up to float reordering; fp16 and int8 may move logits but must keep the
# decisions. Cosine and mean abs are reported for every variant but not limited.
DEFAULT_LIMITS: dict[str, ParityLimits] = {
    "fp32": ParityLimits(max_abs=1e-4, min_agreement=1.0),
    "fp16": ParityLimits(min_agreement=0.995),
    "int8": ParityLimits(min_agreement=0.98, max_accuracy_drop=0.01),
    "int8-static": ParityLimits(min_agreement=0.98, max_accuracy_drop=0.01),
}


@dataclass
class ExportConfig:
    """One `videoedge export` run. Paths may be str or Path."""

    model: Path  # a videoedge model directory (HF VideoMAE + videoedge.json)
    out: Path  # the bundle directory to write (replaced atomically if it exists)
    fp16: bool = False  # also write model.fp16.onnx (fp16 weights, fp32 inputs/outputs)
    int8: str | None = None  # also write model.int8.onnx: "dynamic" or "static" (QDQ)
    calib: Path | None = None  # dataset (or split folder) whose train clips calibrate static int8
    calib_clips: int = 32  # calibration clips (one at a time: memory stays at one clip's)
    opset: int = MIN_OPSET  # ONNX opset of the exported graph
    data: Path | None = None  # dataset for parity; None = the one in RUN/metrics.json
    split: str = "test"  # held-out split of `data` whose clips prove parity
    clips_per_video: int = 2  # clips spread evenly over each parity video
    max_clips: int = 96  # parity clips at most (videos taken round-robin over classes)
    batch_size: int = 4  # clips per inference call in parity (exercises the dynamic batch)
    limits: dict[str, ParityLimits] = field(default_factory=lambda: dict(DEFAULT_LIMITS))

    def __post_init__(self):
        self.model = Path(self.model)
        self.out = Path(self.out)
        self.calib = Path(self.calib) if self.calib is not None else None
        self.data = Path(self.data) if self.data is not None else None
        if self.int8 is not None and self.int8 not in INT8_MODES:
            raise UsageError(f"--int8 must be one of {', '.join(INT8_MODES)}, got {self.int8!r}")
        if self.int8 == "static" and self.calib is None:
            raise UsageError("--int8 static needs calibration clips: add --calib DATA (a dataset "
                             "folder with a train/ split), or use --int8 dynamic")
        if self.calib is not None and self.int8 != "static":
            raise UsageError("--calib is only used by --int8 static; add --int8 static or drop "
                             "--calib")
        if not (isinstance(self.opset, int) and MIN_OPSET <= self.opset <= MAX_OPSET):
            raise UsageError(f"--opset must be between {MIN_OPSET} and {MAX_OPSET} (the dynamo "
                             f"exporter starts at {MIN_OPSET}), got {self.opset!r}")
        if self.split not in SPLITS:
            raise UsageError(f"--split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        for name in ("calib_clips", "clips_per_video", "max_clips", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"{name} must be a positive integer, got {value!r}")
        missing = {"fp32", "fp16", self.int8_precision} - {None} - set(self.limits)
        if missing:
            raise UsageError(f"limits has no entry for {', '.join(sorted(missing))}")
        if self.out.resolve() == self.model.resolve():
            raise UsageError("--out must not be the model directory; choose a new bundle path")

    @property
    def int8_precision(self) -> str | None:
        """The contract precision of model.int8.onnx: "int8" (dynamic) or "int8-static"."""
        return {"dynamic": "int8", "static": "int8-static"}.get(self.int8)

    def variants(self) -> list[tuple[str, str]]:
        """(file name, precision) of every ONNX file this run writes, fp32 first."""
        out = [("model.onnx", "fp32")]
        if self.fp16:
            out.append(("model.fp16.onnx", "fp16"))
        if self.int8:
            out.append(("model.int8.onnx", self.int8_precision))
        return out
