"""A bundle on disk -> the ONNX file to run and the contract it carries, validated.

A bundle is a directory written by `videoedge export` (model.onnx, optional model.fp16.onnx
and model.int8.onnx, videoedge.json); a single .onnx file that carries the contract in its
metadata works too. The contract is read from the ONNX file's metadata_props["videoedge"]
(the file knows its own precision); videoedge.json must agree with it on everything except
precision. The graph is checked against the contract: input name and shape, output name,
and one logit per label.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .contract import CONTRACT_FILENAME, METADATA_KEY, Contract
from .errors import ContractError, UsageError

# precision -> file name inside a bundle
MODEL_FILES = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}
PRECISIONS = ("auto", *MODEL_FILES)
# contract fields that may differ between the variants of one bundle
PER_FILE_FIELDS = {"precision", "versions", "source", "clip_seconds"}


@dataclass
class BundleFile:
    path: Path  # the .onnx file to load
    precision: str  # fp32 | fp16 | int8 (the file's, from its contract)
    directory: Path | None  # the bundle directory, None for a bare .onnx file


def available_precisions(bundle: str | os.PathLike) -> list[str]:
    bundle = Path(bundle)
    if bundle.is_file():
        return []
    return [p for p, name in MODEL_FILES.items() if (bundle / name).is_file()]


def choose_file(bundle: str | os.PathLike, precision: str = "auto", *,
                gpu: bool = False) -> BundleFile:
    """Pick the model file: `auto` is fp16 on a GPU when the bundle has it, else fp32."""
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    bundle = Path(bundle)
    if not bundle.exists():
        raise UsageError(f"{bundle}: no such bundle; make one with `videoedge export MODEL --out "
                         f"{bundle}`")
    if bundle.is_file():
        if bundle.suffix != ".onnx":
            raise UsageError(f"{bundle} is not a bundle directory or an .onnx file")
        if precision not in ("auto",):
            raise UsageError(f"--precision {precision} needs a bundle directory; {bundle} is one "
                             "file (its precision is in its metadata)")
        return BundleFile(bundle, "auto", None)
    have = available_precisions(bundle)
    if not have:
        hint = (" (it looks like a model directory: export it first with "
                f"`videoedge export {bundle} --out BUNDLE`)" if (bundle / "config.json").exists()
                else "")
        raise ContractError(f"{bundle} has no model.onnx{hint}")
    if precision == "auto":
        precision = "fp16" if gpu and "fp16" in have else "fp32" if "fp32" in have else have[0]
    if precision not in have:
        raise UsageError(f"{bundle} has no {MODEL_FILES[precision]} (it has "
                         f"{', '.join(have)}); export with --{precision} or pick one of those")
    return BundleFile(bundle / MODEL_FILES[precision], precision, bundle)


def contract_from_metadata(metadata: dict, file: BundleFile) -> Contract:
    """The contract carried by the ONNX file, checked against the bundle's videoedge.json."""
    side = file.directory / CONTRACT_FILENAME if file.directory else None
    side_contract = Contract.load(side) if side is not None and side.is_file() else None
    text = metadata.get(METADATA_KEY)
    if text is None:
        if side_contract is None:
            raise ContractError(
                f"{file.path} carries no '{METADATA_KEY}' metadata and there is no "
                f"{CONTRACT_FILENAME} beside it: re-export it with `videoedge export`")
        return side_contract  # an ONNX file saved by another tool, with our sidecar
    contract = Contract.from_json(text, where=f"{file.path} metadata '{METADATA_KEY}'")
    if side_contract is not None:
        a, b = contract.to_dict(), side_contract.to_dict()
        differ = sorted(k for k in a if k not in PER_FILE_FIELDS and a[k] != b.get(k))
        if differ:
            raise ContractError(
                f"{file.path} and {side} disagree on {', '.join(differ)}: the bundle was mixed "
                "from different exports; re-export it")
    return contract


def check_graph(session, contract: Contract, file: BundleFile) -> None:
    """Input/output names and static shapes of the graph against the contract."""
    sess = session.ort_session
    inputs = {i.name: i for i in sess.get_inputs()}
    outputs = {o.name: o for o in sess.get_outputs()}
    where = str(file.path)
    if contract.input_name not in inputs:
        raise ContractError(f"{where}: no input {contract.input_name!r} (it has "
                            f"{', '.join(inputs)}); the contract does not describe this model")
    if contract.output_name not in outputs:
        raise ContractError(f"{where}: no output {contract.output_name!r} (it has "
                            f"{', '.join(outputs)}); the contract does not describe this model")
    shape = inputs[contract.input_name].shape
    expected = contract.input_shape("batch")
    if len(shape) != len(expected):
        raise ContractError(f"{where}: input shape {shape} is not (batch, T, 3, H, W)")
    for got, want, name in zip(shape[1:], expected[1:], ("T", "C", "H", "W")):
        if isinstance(got, int) and got != want:
            raise ContractError(f"{where}: input {name} is {got} but the contract says {want}; "
                                "the contract does not describe this model")
    out_shape = outputs[contract.output_name].shape
    if out_shape and isinstance(out_shape[-1], int):
        check_num_logits(out_shape[-1], contract, where)
    session.input_name, session.output_name = contract.input_name, contract.output_name


def check_num_logits(n: int, contract: Contract, where: str) -> None:
    if n != contract.num_classes:
        raise ContractError(f"{where}: the model outputs {n} logits but the contract has "
                            f"{contract.num_classes} labels; the bundle's labels do not match "
                            "its model: re-export it")


def describe(file: BundleFile, contract: Contract) -> dict:
    return {"model": str(file.path), "precision": contract.precision,
            "labels": len(contract.labels), "clip_seconds": round(contract.clip_seconds, 4),
            "num_frames": contract.num_frames, "size": [contract.height, contract.width]}


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)
