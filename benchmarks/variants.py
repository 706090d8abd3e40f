"""Which variants one model offers on this machine: PyTorch eager (and torch.compile), each
ONNX file of the bundle on the CPU, and, on a GPU machine, PyTorch CUDA and ORT CUDA/TensorRT.

A variant that cannot run here is not silently dropped: it comes back in `skipped` with the
reason, and the table prints it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from videoedge.runtime.contract import METADATA_KEY

# contract precision (the ONNX file's metadata) -> the precision column of the table
PRECISION_OF_CONTRACT = {"fp32": "fp32", "fp16": "fp16", "int8": "int8-dynamic",
                         "int8-static": "int8-static"}
# a file whose metadata cannot be read is classified by its name
PRECISION_OF_NAME = {"model.onnx": "fp32", "model.fp16.onnx": "fp16",
                     "model.int8.onnx": "int8-dynamic", "model.int8-static.onnx": "int8-static",
                     "model.int8.static.onnx": "int8-static",
                     "model.int8_static.onnx": "int8-static"}
CPU_ORT = ("fp32", "fp16", "int8-dynamic", "int8-static")  # every precision the table has


@dataclass(frozen=True)
class Variant:
    name: str  # table row name, e.g. "ort-cpu-int8-dynamic"
    backend: str  # "torch" | "ort"
    device: str  # "cpu" | "cuda" | "tensorrt"
    precision: str  # "fp32" | "fp16" | "int8-dynamic" | "int8-static"
    path: str  # torch: the HF model directory; ort: the .onnx file
    compile: bool = False  # torch only: wrap the model in torch.compile

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Variant:
        return cls(**d)


@dataclass(frozen=True)
class Skipped:
    name: str  # the variant that is not measured
    reason: str  # one line: why, and how to get it


def graph_precision(model) -> str:
    """What the graph itself is, whatever its name or metadata say: dynamic int8 has
    DynamicQuantizeLinear/MatMulInteger, static int8 has QuantizeLinear/DequantizeLinear (QDQ)
    or QLinear* ops, fp16 has fp16 weights, anything else is fp32."""
    import onnx

    ops = {n.op_type for n in model.graph.node}
    if ops & {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
              "DynamicQuantizeMatMul"}:
        return "int8-dynamic"
    if ops & {"QuantizeLinear", "DequantizeLinear", "QLinearMatMul", "QLinearConv"}:
        return "int8-static"
    if any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer):
        return "fp16"
    return "fp32"


def onnx_precision(path: Path) -> tuple[str | None, str | None]:
    """(precision from the graph's ops, precision the file's contract metadata names);
    (None, None) when the file cannot be read."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - an unreadable file is classified by its name
        return None, None
    declared = None
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            try:
                declared = PRECISION_OF_CONTRACT.get(json.loads(prop.value).get("precision"))
            except (json.JSONDecodeError, AttributeError):
                pass
    return graph_precision(model), declared


def onnx_file_mb(path: Path) -> float:
    """Size of an ONNX model on disk: the file plus the external data files it references
    (not every file that happens to sit beside it)."""
    path = Path(path)
    total = path.stat().st_size
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        locations = {entry.value for t in model.graph.initializer
                     if t.data_location == onnx.TensorProto.EXTERNAL
                     for entry in t.external_data if entry.key == "location"}
    except Exception:  # noqa: BLE001 - unreadable: the file alone
        locations = set()
    for name in locations:
        f = path.parent / name
        if f.is_file():
            total += f.stat().st_size
    return total / 2**20


def bundle_files(*bundles: Path) -> dict[str, Path]:
    """precision -> .onnx file, for every model file of the bundles, classified by what its
    graph contains (then its name, when it cannot be read). Two files of one precision: an
    earlier bundle wins, then the file with the canonical name."""
    found: dict[str, Path] = {}
    for bundle in bundles:
        here: dict[str, Path] = {}
        for path in sorted(Path(bundle).glob("*.onnx")):
            precision = onnx_precision(path)[0] or PRECISION_OF_NAME.get(path.name)
            if precision is None:
                continue
            if precision not in here or PRECISION_OF_NAME.get(path.name) == precision:
                here[precision] = path
        found = {**here, **found}
    return found


def discover(model: Path, bundles: list[Path], *, compile: bool = True, cuda: bool = False,
             ort_providers: tuple[str, ...] = ("CPUExecutionProvider",),
             files: dict[str, Path] | None = None) -> tuple[list[Variant], list[Skipped]]:
    """The variants to time for one model, and the ones that cannot be, with reasons.

    `cuda` (torch.cuda.is_available()) and `ort_providers` (onnxruntime's available providers)
    are passed in, so the GPU rows are decided by one explicit, testable rule."""
    files = bundle_files(*bundles) if files is None else files
    run: list[Variant] = [Variant("pytorch-eager-fp32", "torch", "cpu", "fp32", str(model))]
    skipped: list[Skipped] = []
    if compile:
        run.append(Variant("pytorch-compile-fp32", "torch", "cpu", "fp32", str(model), True))
    else:
        skipped.append(Skipped("pytorch-compile-fp32", "not asked for (--no-compile)"))
    flags = {"fp16": "--fp16", "int8-dynamic": "--int8 dynamic", "int8-static": "--int8 static"}
    for precision in CPU_ORT:
        name = f"ort-cpu-{precision}"
        if precision in files:
            run.append(Variant(name, "ort", "cpu", precision, str(files[precision])))
        else:
            how = f"; export with `{flags[precision]}`" if precision in flags else ""
            skipped.append(Skipped(name, f"no bundle has a {precision} file{how}"))

    # GPU rows: only on a machine that has them; untested on the CPU-only development machine
    if cuda:
        run.append(Variant("pytorch-cuda-fp32", "torch", "cuda", "fp32", str(model)))
        run.append(Variant("pytorch-cuda-fp16", "torch", "cuda", "fp16", str(model)))
    else:
        skipped.append(Skipped("pytorch-cuda-*", "no CUDA device (torch.cuda.is_available() "
                                                  "is False)"))
    gpu_ort = [("cuda", "CUDAExecutionProvider"), ("tensorrt", "TensorrtExecutionProvider")]
    for device, provider in gpu_ort:
        if provider not in ort_providers:
            skipped.append(Skipped(f"ort-{device}-*", f"onnxruntime has no {provider} (install "
                                                       "onnxruntime-gpu on a GPU machine)"))
            continue
        if "fp32" in files:
            run.append(Variant(f"ort-{device}-fp32", "ort", device, "fp32", str(files["fp32"])))
        if device == "cuda" and "fp16" in files:
            run.append(Variant("ort-cuda-fp16", "ort", "cuda", "fp16", str(files["fp16"])))
        if device == "tensorrt" and "fp32" in files:  # TensorRT builds its own fp16 engine
            run.append(Variant("ort-tensorrt-fp16", "ort", "tensorrt", "fp16",
                               str(files["fp32"])))
    return run, skipped


def select(variants: list[Variant], skipped: list[Skipped],
           only: tuple[str, ...] | None) -> tuple[list[Variant], list[Skipped]]:
    """Keep only the named variants (the reference always stays: agreement needs it)."""
    if only is None:
        return variants, skipped
    from .config import REFERENCE_VARIANT

    keep = [v for v in variants if v.name in only or v.name == REFERENCE_VARIANT]
    dropped = [Skipped(v.name, "not selected (--variants)") for v in variants if v not in keep]
    return keep, skipped + dropped
