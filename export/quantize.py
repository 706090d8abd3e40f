"""Reduced-precision variants of an exported fp32 ONNX file.

- fp16: weights and compute in float16, inputs and outputs kept float32, so the runtime
  feeds the same tensors to every variant (onnxconverter-common, keep_io_types). For GPUs:
  on a CPU it runs but is no faster.
- int8 dynamic: int8 weights for the MatMul/Gemm layers, activations quantized on the fly
  per call (onnxruntime.quantization.quantize_dynamic). No data needed.
- int8 static: QDQ (QuantizeLinear/DequantizeLinear pairs), activation ranges calibrated
  on real training clips (MinMax).

Static calibration memory is bounded: clips are decoded one at a time from a generator and
fed one per inference, so the data never holds more than one clip; ORT's MinMax calibrator
reduces every calibrated tensor to its min and max inside the graph (ReduceMin/ReduceMax),
so what it keeps per clip is two numbers per tensor; and the calibration session runs
without the CPU memory arena. Peak memory is then one inference of the augmented model at
batch 1 (on VideoMAE-base: see export/README.md, "Memory of static calibration").
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from videoedge.runtime.contract import Contract

from .onnx import save, set_contract

# The layers that carry VideoMAE's FLOPs (the attention and MLP projections and the
# classifier; the patch embedding is one Conv). Quantizing only these keeps LayerNorm,
# Softmax and GELU in float, where int8 costs accuracy and buys no speed.
INT8_OP_TYPES = ("MatMul", "Gemm")


def to_fp16(fp32_path: str | os.PathLike, contract: Contract, path: str | os.PathLike) -> Path:
    """model.fp16.onnx: float16 weights and compute, float32 inputs and outputs."""
    import onnx
    from onnxconverter_common import float16

    proto = onnx.load(str(fp32_path))
    with warnings.catch_warnings():  # "value truncated to 1e-07": expected for fp16 weights
        warnings.simplefilter("ignore")
        proto = float16.convert_float_to_float16(proto, keep_io_types=True)
    set_contract(proto, contract.replace(precision="fp16"))
    save(proto, path)
    onnx.checker.check_model(str(path), full_check=True)
    return Path(path)


def to_int8_dynamic(fp32_path: str | os.PathLike, contract: Contract,
                    path: str | os.PathLike) -> Path:
    """model.int8.onnx, dynamic: int8 weights (per channel), activations quantized per call."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_ort_quantization():
        quantize_dynamic(str(fp32_path), str(path), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=list(INT8_OP_TYPES))
    return _finish(path, contract.replace(precision="int8"))


class _ClipReader:
    """onnxruntime CalibrationDataReader over a lazy iterator of (1, T, 3, H, W) clips."""

    def __init__(self, input_name: str, clips: Iterable[np.ndarray]):
        self.input_name = input_name
        self.clips = iter(clips)
        self.count = 0

    def get_next(self):
        clip = next(self.clips, None)
        if clip is None:
            return None
        self.count += 1
        return {self.input_name: np.ascontiguousarray(clip, dtype=np.float32)}

    def rewind(self):  # the MinMax calibrator reads once; nothing to rewind
        pass


def to_int8_static(fp32_path: str | os.PathLike, contract: Contract, path: str | os.PathLike,
                   clips: Iterable[np.ndarray]) -> tuple[Path, int]:
    """model.int8.onnx, static QDQ calibrated on `clips` (one (1,T,3,H,W) array each).

    Returns the path and the number of clips the calibration saw. Calibration runs in a
    session of our own without onnxruntime's CPU memory arena (the arena keeps the peak of
    every activation size it has seen: 10.9 GB on VideoMAE-base, 5.6 GB without it); the
    ranges then go to `quantize_static` through its calibration cache file."""
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    reader = _ClipReader(contract.input_name, clips)
    with tempfile.TemporaryDirectory(prefix="videoedge-calib-") as work, \
            _quiet_ort_quantization():
        work = Path(work)
        calibrator = create_calibrator(
            Path(fp32_path), list(INT8_OP_TYPES), augmented_model_path=str(work / "aug.onnx"),
            calibrate_method=CalibrationMethod.MinMax)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.enable_cpu_mem_arena = False  # give each activation back as soon as it dies
        calibrator.infer_session = ort.InferenceSession(
            str(work / "aug.onnx"), options, providers=["CPUExecutionProvider"])
        calibrator.collect_data(reader)
        save_tensors_data(calibrator.compute_data(), work / "ranges.json")
        del calibrator
        quantize_static(
            str(fp32_path), str(path), None, calibration_cache_path=work / "ranges.json",
            quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=list(INT8_OP_TYPES),
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    return _finish(path, contract.replace(precision="int8-static")), reader.count


def _finish(path: str | os.PathLike, contract: Contract) -> Path:
    import onnx

    proto = onnx.load(str(path))
    set_contract(proto, contract)
    save(proto, path)
    onnx.checker.check_model(str(path), full_check=True)
    return Path(path)


@contextlib.contextmanager
def _quiet_ort_quantization():
    """onnxruntime.quantization logs advice ("run pre-processing first") on the root logger."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)
