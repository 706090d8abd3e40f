"""fp32 ONNX export of a VideoMAE classifier, and the contract inside ONNX files.

`torch.onnx.export` (the dynamo exporter) traces `pixel_values -> logits` with a dynamic
batch axis; the graph passes `onnx.checker`'s full check (with shape inference) before it is
written. Every ONNX file videoedge writes carries its contract as JSON in
`metadata_props["videoedge"]`, with the precision of that file."""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

from videoedge.runtime.contract import METADATA_KEY, Contract
from videoedge.runtime.errors import ContractError

EXTERNAL_DATA_BYTES = 1_800_000_000  # protobuf's limit is 2 GiB: bigger models go external


def export_fp32(model, contract: Contract, path: str | os.PathLike, *, opset: int = 18) -> Path:
    """Export `model` (VideoMAEForVideoClassification, eval) to `path`, contract embedded."""
    import onnx
    import torch

    class Logits(torch.nn.Module):  # the graph's one input and one output, by name
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values=pixel_values).logits

    example = torch.zeros(contract.input_shape(2), dtype=torch.float32)  # batch 2: not special
    batch = torch.export.Dim("batch", min=1, max=1024)
    quiet = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            Logits(model.eval()), (example,), dynamo=True, opset_version=opset,
            input_names=[contract.input_name], output_names=[contract.output_name],
            dynamic_shapes={"pixel_values": {0: batch}}, verbose=False, optimize=True,
        )
    proto = program.model_proto
    del program
    set_contract(proto, contract.replace(precision="fp32"))
    save(proto, path)
    onnx.checker.check_model(str(path), full_check=True)
    return Path(path)


def save(proto, path: str | os.PathLike) -> Path:
    """onnx.save, with weights in `<name>.data` beside it when the model passes ~1.8 GB."""
    import onnx

    path = Path(path)
    big = proto.ByteSize() > EXTERNAL_DATA_BYTES
    onnx.save(proto, str(path), save_as_external_data=big, all_tensors_to_one_file=True,
              location=f"{path.name}.data" if big else None)
    return path


def set_contract(proto, contract: Contract) -> None:
    """Write the contract JSON into `metadata_props["videoedge"]` (replacing an old one)."""
    props = proto.metadata_props
    for i in reversed(range(len(props))):
        if props[i].key == METADATA_KEY:
            del props[i]
    entry = props.add()
    entry.key, entry.value = METADATA_KEY, contract.to_json()


def read_contract(path: str | os.PathLike) -> Contract:
    """The contract an ONNX file carries (without loading its weights)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    for prop in proto.metadata_props:
        if prop.key == METADATA_KEY:
            return Contract.from_json(prop.value, where=f"{path} metadata_props[{METADATA_KEY!r}]")
    raise ContractError(f"{path} carries no videoedge contract in its metadata; "
                        "export it with `videoedge export`")


def io_signature(path: str | os.PathLike) -> dict:
    """{name: (elem_type name, dims)} of the graph's inputs and outputs (dims: int or str)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    out = {}
    for value in list(proto.graph.input) + list(proto.graph.output):
        t = value.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in t.shape.dim]
        out[value.name] = (onnx.TensorProto.DataType.Name(t.elem_type), dims)
    return out
