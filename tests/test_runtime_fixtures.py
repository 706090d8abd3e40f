"""Tiny bundles made in the test, without the export stage: a hand-written ONNX graph
(mean over time and space -> one linear layer -> logits) that carries the contract in its
metadata, exactly as `videoedge export` writes it. Imported by the runtime tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from videoedge.runtime.contract import CONTRACT_FILENAME, METADATA_KEY, Contract

# colour labels: the graph's top-1 is the channel with the largest normalised mean
LABELS = ["red", "green", "blue"]


def tiny_contract(labels=LABELS, **changes) -> Contract:
    """4 frames x stride 8 at 30 fps = 1.07 s clips, 16x16 input: fast to run anywhere."""
    base = dict(labels=list(labels), num_frames=4, frame_stride=8, reference_fps=30.0,
                height=16, width=16, resize_short_side=16, mean=(0.5, 0.5, 0.5),
                std=(0.25, 0.25, 0.25), source="test:colour-mean")
    base.update(changes)
    return Contract(**base)


def colour_model(contract: Contract, *, num_logits: int | None = None, metadata: bool = True,
                 weights: np.ndarray | None = None):
    """An onnx.ModelProto: logits = mean_{T,H,W}(pixel_values) @ W + b."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    k = num_logits or contract.num_classes
    w = weights if weights is not None else np.eye(3, k, dtype=np.float32) * 4.0
    b = np.zeros(k, np.float32)
    x = helper.make_tensor_value_info(contract.input_name, TensorProto.FLOAT,
                                      ["batch", contract.num_frames, 3, contract.height,
                                       contract.width])
    y = helper.make_tensor_value_info(contract.output_name, TensorProto.FLOAT,
                                      ["batch", k])
    nodes = [helper.make_node("ReduceMean", [contract.input_name], ["m"], axes=[1, 3, 4],
                              keepdims=0),
             helper.make_node("MatMul", ["m", "W"], ["z"]),
             helper.make_node("Add", ["z", "b"], [contract.output_name])]
    graph = helper.make_graph(nodes, "colour_mean", [x], [y],
                              [numpy_helper.from_array(w.astype(np.float32), "W"),
                               numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata:
        onnx.helper.set_model_props(model, {METADATA_KEY: contract.to_json()})
    onnx.checker.check_model(model)
    return model


def make_bundle(directory, contract: Contract | None = None, *, fp16_copy: bool = False,
                **model_kwargs) -> Path:
    """A bundle directory: model.onnx (+ model.fp16.onnx), videoedge.json."""
    import onnx

    contract = contract or tiny_contract()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(colour_model(contract, **model_kwargs), directory / "model.onnx")
    if fp16_copy:  # same graph, its metadata says fp16 (fp32 I/O, as the export writes it)
        onnx.save(colour_model(contract.replace(precision="fp16"), **model_kwargs),
                  directory / "model.fp16.onnx")
    (directory / CONTRACT_FILENAME).write_text(contract.to_json())
    return directory


def colour_video(path, colours, *, fps: float = 30.0, seconds_each: float = 1.0,
                 size=(48, 32), fourcc: str = "MJPG") -> Path:
    """A video showing each BGR colour in turn for `seconds_each` seconds."""
    import cv2

    path = Path(path)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for colour in colours:
        frame = np.zeros((h, w, 3), np.uint8)
        frame[:] = colour
        for _ in range(max(1, round(seconds_each * fps))):
            writer.write(frame)
    writer.release()
    return path


RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)  # BGR, as OpenCV writes


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]
