"""ONNX Runtime sessions: execution providers by device, fallback reporting, IO binding.

`auto` asks for TensorRT, then CUDA, then CPU, and keeps whichever this onnxruntime build
has. After the session is made, the providers it *really* got are read back (ORT falls back
to CPU silently when CUDA libraries are missing): `auto` reports a fallback in one line, an
explicit `cuda` or `tensorrt` that cannot be honoured is a `DeviceError` (exit 2).
On CUDA/TensorRT inputs and outputs are bound with IO binding (one copy in, one copy out).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UsageError

DEVICES = ("auto", "tensorrt", "cuda", "cpu")
TRT, CUDA, CPU = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"
SHORT = {TRT: "TensorRT", CUDA: "CUDA", CPU: "CPU"}
GPU_HINT = "pip uninstall -y onnxruntime && pip install onnxruntime-gpu (never both)"


class DeviceError(UsageError):
    """The device asked for cannot be used (exit 2)."""


@dataclass
class SessionConfig:
    device: str = "auto"  # auto | tensorrt | cuda | cpu
    device_id: int = 0  # GPU index for CUDA/TensorRT
    threads: int = 0  # intra-op threads on CPU; 0 = ORT's default (all cores)
    io_binding: bool | None = None  # None: on for CUDA/TensorRT, off on CPU
    trt_fp16: bool = False  # let TensorRT build fp16 engines (for fp32 models)
    trt_cache_dir: str | None = None  # TensorRT engine cache; None = ~/.cache/videoedge/trt

    def __post_init__(self):
        if self.device not in DEVICES:
            raise UsageError(f"--device {self.device!r}: choose one of {', '.join(DEVICES)}")
        if self.device_id < 0 or self.threads < 0:
            raise UsageError("device_id and threads must be >= 0")


@dataclass
class Session:
    """One loaded model: `run(batch) -> logits` with the providers it actually got."""

    ort_session: object  # onnxruntime.InferenceSession
    input_name: str
    output_name: str
    providers: list[str]  # what the session really runs on, best first
    requested: list[str]  # what was asked for
    io_binding: bool
    device_id: int = 0
    input_dtype: type = np.float32  # the model's input element type
    note: str = ""  # the one line describing a fallback, "" when none
    metadata: dict = field(default_factory=dict)  # custom_metadata_map of the ONNX file

    @property
    def device(self) -> str:
        return SHORT.get(self.providers[0], self.providers[0])

    def run(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=self.input_dtype)
        if not self.io_binding:
            return self.ort_session.run([self.output_name], {self.input_name: x})[0]
        import onnxruntime as ort

        on_gpu = self.providers[0] in (TRT, CUDA)
        where = "cuda" if on_gpu else "cpu"
        binding = self.ort_session.io_binding()
        value = ort.OrtValue.ortvalue_from_numpy(x, where, self.device_id if on_gpu else 0)
        binding.bind_ortvalue_input(self.input_name, value)
        binding.bind_output(self.output_name, where, self.device_id if on_gpu else 0)
        self.ort_session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def requested_providers(config: SessionConfig, available: list[str]) -> list:
    """The provider list to ask ORT for (names or (name, options) pairs), best first."""
    have = set(available)
    want = {"auto": [TRT, CUDA, CPU], "tensorrt": [TRT, CUDA, CPU], "cuda": [CUDA, CPU],
            "cpu": [CPU]}[config.device]
    if config.device in ("cuda", "tensorrt"):
        need = TRT if config.device == "tensorrt" else CUDA
        if need not in have:
            raise DeviceError(
                f"--device {config.device}: this onnxruntime has no {SHORT[need]} provider "
                f"(it has {', '.join(SHORT.get(p, p) for p in available)}); {GPU_HINT}; "
                "or use --device cpu")
    out = []
    for name in want:
        if name not in have:
            continue
        if name == TRT:
            cache = config.trt_cache_dir or str(Path.home() / ".cache" / "videoedge" / "trt")
            os.makedirs(cache, exist_ok=True)  # engines are built once, then loaded from here
            out.append((name, {"device_id": config.device_id, "trt_engine_cache_enable": True,
                               "trt_engine_cache_path": cache,
                               "trt_fp16_enable": bool(config.trt_fp16)}))
        elif name == CUDA:
            out.append((name, {"device_id": config.device_id}))
        else:
            out.append(name)
    return out


def open_session(model_path: str | os.PathLike, config: SessionConfig | None = None,
                 *, notify: Callable[[str], None] | None = None) -> Session:
    """Load `model_path` on the configured device; report or refuse fallbacks."""
    import onnxruntime as ort

    config = config or SessionConfig()
    notify = notify or (lambda line: print(f"videoedge: {line}", file=sys.stderr))
    available = available_providers()
    providers = requested_providers(config, available)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: fallbacks are reported by us, in one line
    if config.threads:
        options.intra_op_num_threads = config.threads
    try:
        sess = ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
    except Exception as e:  # noqa: BLE001 - ORT raises its own untyped errors; re-typed here
        from .errors import ContractError

        raise ContractError(f"{model_path}: ONNX Runtime cannot load it ({str(e).splitlines()[0]}); "
                            "re-export the bundle with `videoedge export`") from None
    got = list(sess.get_providers())
    asked = [p if isinstance(p, str) else p[0] for p in providers]
    note = ""
    best = got[0] if got else CPU
    if config.device in ("cuda", "tensorrt"):
        need = TRT if config.device == "tensorrt" else CUDA
        if need not in got:
            raise DeviceError(
                f"--device {config.device}: ONNX Runtime could not start {SHORT[need]} "
                f"(the session got {', '.join(SHORT.get(p, p) for p in got)}): check the "
                "CUDA/cuDNN/TensorRT libraries match this onnxruntime-gpu; or use --device cpu")
    elif config.device == "auto" and best != asked[0]:
        missing = [SHORT[p] for p in (TRT, CUDA) if p not in got]
        why = ("not in this onnxruntime build" if not set(asked) - {CPU} else
               "failed to start")
        note = (f"device auto: running on {SHORT.get(best, best)}; "
                f"{' and '.join(missing)} {why} (for GPUs: {GPU_HINT})")
    elif config.device == "auto" and CPU == best and asked == [CPU]:
        note = (f"device auto: running on CPU; TensorRT and CUDA are not in this onnxruntime "
                f"build (for GPUs: {GPU_HINT})")
    if note:
        notify(note)
    inp = sess.get_inputs()[0]
    out = sess.get_outputs()[0]
    dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
    io = config.io_binding if config.io_binding is not None else best in (TRT, CUDA)
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    return Session(sess, inp.name, out.name, got, asked, io, config.device_id, dtype, note, meta)
