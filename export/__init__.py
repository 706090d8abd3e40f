"""videoedge.export: ONNX fp32/fp16/int8 bundles that carry their contract and prove their
parity on real clips.

    from videoedge.export import ExportConfig, export_bundle
    result = export_bundle(ExportConfig(model="run/model", out="bundle", int8="dynamic",
                                        data="data"))

Importing this package is cheap: torch, onnx and onnxruntime load when an export runs."""

from .bundle import ExportResult, export_bundle
from .config import DEFAULT_LIMITS, ExportConfig, ParityLimits

__all__ = ["DEFAULT_LIMITS", "ExportConfig", "ExportResult", "ParityLimits", "export_bundle"]
