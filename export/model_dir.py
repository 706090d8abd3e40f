"""The export's input: a videoedge model directory (what `videoedge train` writes).

It is a Hugging Face VideoMAE directory (`config.json` with model_type "videomae" and its
weights) plus the contract (`videoedge.json`). Everything is checked before any heavy
work starts, so a wrong path costs a second, not an export."""

from __future__ import annotations

import json
import os
from pathlib import Path

from videoedge.runtime.contract import CONTRACT_FILENAME, Contract
from videoedge.runtime.errors import ContractError, UsageError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


def check_model_dir(path: str | os.PathLike) -> Contract:
    """Validate `path` as a VideoMAE videoedge model directory; return its contract."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such model directory; pass the model/ folder that "
                         "`videoedge train` wrote (RUN/model)")
    if not path.is_dir():
        raise UsageError(f"{path} is a file; pass a model directory (RUN/model), not a file")
    config_file = path / "config.json"
    if not config_file.is_file():
        hint = " (it looks like a bundle: it is already exported)" if (
            path / "model.onnx").exists() else ""
        raise UsageError(f"{path} is not a Hugging Face model directory (no config.json){hint}; "
                         "pass the model/ folder that `videoedge train` wrote")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{config_file} is not valid JSON ({e})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type != "videomae":
        raise UsageError(f"{path} holds a {model_type or 'unknown'!s} model, not VideoMAE; "
                         "videoedge exports VideoMAEForVideoClassification models")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise UsageError(f"{path} has config.json but no weights ({' or '.join(WEIGHT_FILES[:2])})")
    if not (path / CONTRACT_FILENAME).is_file():
        raise ContractError(
            f"{path} has no {CONTRACT_FILENAME} (the preprocessing contract), so an export "
            "could not say how to feed it; train it with `videoedge train`, or write one with "
            "videoedge.train.presets.save_model_dir(model, contract, dir)")
    contract = Contract.load(path)
    _check_agreement(path, config, contract)
    return contract


def _check_agreement(path: Path, config: dict, contract: Contract) -> None:
    """The contract and config.json must describe the same model."""
    problems = []
    id2label = config.get("id2label") or {}
    labels = [id2label.get(str(i), id2label.get(i)) for i in range(len(id2label))]
    if labels and labels != contract.labels:
        problems.append(f"labels {labels} != contract labels {contract.labels}")
    for key, want in (("num_frames", contract.num_frames), ("image_size", contract.height)):
        if key in config and config[key] != want:
            problems.append(f"config {key}={config[key]} but the contract says {want}")
    if contract.height != contract.width:
        problems.append(f"VideoMAE takes square inputs, the contract says "
                        f"{contract.height}x{contract.width}")
    if problems:
        raise ContractError(f"{path}: config.json and {CONTRACT_FILENAME} disagree: "
                            + "; ".join(problems))


def load_model(path: str | os.PathLike):
    """The PyTorch model, in eval mode, on CPU, fp32."""
    import torch
    from transformers import VideoMAEForVideoClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one line per step is ours to print, not a bar
    model = VideoMAEForVideoClassification.from_pretrained(str(path), dtype=torch.float32)
    return model.eval()


def run_metrics(path: str | os.PathLike) -> dict | None:
    """RUN/metrics.json next to RUN/model, if the training run wrote one."""
    file = Path(path).resolve().parent / "metrics.json"
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
