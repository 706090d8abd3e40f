"""Where a model comes from: a named preset (random init), a local directory, or a hub id.

Each gives a `VideoMAEForVideoClassification` with a fresh head for the dataset's labels
(`ignore_mismatched_sizes=True`, as the guide does) and the contract its clips are made by.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from videoedge.runtime.contract import CONTRACT_FILENAME, Contract
from videoedge.runtime.errors import UsageError

from .presets import PRESETS, get_preset, new_model

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DEFAULT_STRIDE = 4  # the guide / VideoMAE: 16 frames x stride 4 at 30 fps
PRETRAINED_LR = 5e-5  # the guide's learning rate for fine-tuning a checkpoint


@dataclass
class ModelSource:
    model: object  # VideoMAEForVideoClassification, head sized for the labels
    contract: Contract  # how its clips are made
    kind: str  # "preset", "local" or "hub"
    name: str  # the preset name, directory or hub id as given


def load_model(spec: str, labels: list[str], *, seed: int = 0) -> ModelSource:
    """Resolve `--model`: preset name, local directory, or hub id (in that order)."""
    if spec in PRESETS:
        preset = get_preset(spec)
        return ModelSource(new_model(preset, labels, seed=seed), preset.contract(labels),
                           "preset", spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _from_pretrained(str(path), labels, "local", spec)
    if path.exists():
        raise UsageError(f"--model {spec} is a file; pass a model directory (with config.json), "
                         f"a hub id or a preset ({', '.join(PRESETS)})")
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise UsageError(f"model directory {spec} does not exist")
    if HUB_ID.match(spec):
        _require_hub(spec)
        return _from_pretrained(spec, labels, "hub", spec)
    get_preset(spec)  # raises: unknown preset, with the nearest name
    raise AssertionError("unreachable")


def _require_hub(repo_id: str) -> None:
    """Fail fast, in one line, when a hub id is neither cached nor reachable."""
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        return  # cached: from_pretrained works offline
    how = (f"download it where a network exists (`hf download {repo_id} --local-dir DIR`), "
           f"copy DIR here and pass --model DIR")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise UsageError(f"--model {repo_id} is a Hugging Face hub id and needs a network, but "
                         f"HF_HUB_OFFLINE is set; {how}")
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=5).close()
    except OSError:
        raise UsageError(f"--model {repo_id} is a Hugging Face hub id and needs a network "
                         f"({endpoint.hostname} cannot be reached); {how}") from None


def _from_pretrained(where: str, labels: list[str], kind: str, spec: str) -> ModelSource:
    from transformers import VideoMAEForVideoClassification

    try:
        model = VideoMAEForVideoClassification.from_pretrained(
            where, label2id={l: i for i, l in enumerate(labels)}, id2label=dict(enumerate(labels)),
            ignore_mismatched_sizes=True)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"cannot load a VideoMAE model from {spec}: {first}") from None
    return ModelSource(model.eval(), contract_for(where, model.config, labels), kind, spec)


def contract_for(where: str, config, labels: list[str]) -> Contract:
    """The contract of a checkpoint: its own videoedge.json if it has one (new labels), else
    its config (frames, size) and image processor (resize, mean, std), stride 4 at 30 fps."""
    local = Path(where)
    if (local / CONTRACT_FILENAME).is_file():
        return Contract.load(local).replace(labels=list(labels), source=str(where))
    proc = {}
    try:
        if local.is_dir():
            file = local / "preprocessor_config.json"
            proc = json.loads(file.read_text()) if file.is_file() else {}
        else:
            from huggingface_hub import hf_hub_download

            proc = json.loads(Path(hf_hub_download(where, "preprocessor_config.json")).read_text())
    except Exception:  # noqa: BLE001 - no processor config: the config's size and ImageNet stats
        proc = {}
    size = int(getattr(config, "image_size", 224))
    crop = proc.get("crop_size") or {}
    height, width = int(crop.get("height", size)), int(crop.get("width", size))
    short = int((proc.get("size") or {}).get("shortest_edge", max(height, width)))
    extra = {k: tuple(proc[p]) for k, p in (("mean", "image_mean"), ("std", "image_std")) if p in proc}
    return Contract(labels=list(labels), num_frames=int(config.num_frames),
                    frame_stride=DEFAULT_STRIDE, height=height, width=width,
                    resize_short_side=max(short, height, width), source=str(where), **extra)
