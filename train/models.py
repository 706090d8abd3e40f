"""Where a model comes from: a named preset (random init), a local directory, or a hub id.

Each gives a `VideoMAEForVideoClassification` with a fresh head for the dataset's labels
(`ignore_mismatched_sizes=True`, as the guide does) and the contract its clips are made by.
"""

from __future__ import annotations

import contextlib
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
    report: "EncoderReport | None" = None  # for a checkpoint: what loaded, what is new


def load_model(spec: str, labels: list[str], *, seed: int = 0) -> ModelSource:
    """Resolve `--model`: preset name, local directory, or hub id (in that order)."""
    if spec in PRESETS:
        preset = get_preset(spec)
        return ModelSource(new_model(preset, labels, seed=seed), preset.contract(labels),
                           "preset", spec)
    where, kind = resolve_checkpoint(spec)
    return _from_pretrained(where, labels, kind, spec)


def resolve_checkpoint(spec: str) -> tuple[str, str]:
    """A `--model` that is not a preset -> (where from_pretrained reads it, "local" | "hub")."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return str(path), "local"
    if path.exists():
        raise UsageError(f"--model {spec} is a file; pass a model directory (with config.json), "
                         f"a hub id or a preset ({', '.join(PRESETS)})")
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise UsageError(f"model directory {spec} does not exist")
    if HUB_ID.match(spec):
        _require_hub(spec)
        return spec, "hub"
    get_preset(spec)  # raises: unknown preset, with the nearest name
    raise AssertionError("unreachable")


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


@contextlib.contextmanager
def quiet_loading():
    """Keep transformers' load report and "Loading weights" bar out of the user's way while
    `from_pretrained` runs: its "missing / unexpected keys" table is misleading for VideoMAE
    (the q_bias / v_bias renames are reported although they land), so videoedge checks what
    landed itself and says it in one line (`encoder_report`)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


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


def require_videomae(where: str, spec: str) -> None:
    """One line, exit 2, when `where` holds no config or a model that is not VideoMAE."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(where)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read a model config from {spec}: {first_line(e)}") from None
    if getattr(config, "model_type", None) != "videomae":
        raise UsageError(f"--model {spec} is a {getattr(config, 'model_type', 'unknown')!r} "
                         "model, not VideoMAE; pass a VideoMAE checkpoint (e.g. "
                         f"MCG-NJU/videomae-base, a videoedge run) or a preset "
                         f"({', '.join(PRESETS)})")


def _from_pretrained(where: str, labels: list[str], kind: str, spec: str) -> ModelSource:
    from transformers import VideoMAEForVideoClassification

    require_videomae(where, spec)
    try:
        with quiet_loading():
            model = VideoMAEForVideoClassification.from_pretrained(
                where, label2id={l: i for i, l in enumerate(labels)},
                id2label=dict(enumerate(labels)), ignore_mismatched_sizes=True)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot load a VideoMAE model from {spec}: {first_line(e)}") from None
    contract = contract_for(where, model.config, labels)
    check_fits(model.config, contract, spec)
    report = encoder_report(model, where)
    return ModelSource(model.eval(), contract, kind, spec, report)


def check_fits(config, contract: Contract, spec: str) -> None:
    """A checkpoint's own contract must match its architecture (frames, crop, patches)."""
    problems = []
    if contract.num_frames != config.num_frames:
        problems.append(f"its contract samples {contract.num_frames} frames, the model takes "
                        f"{config.num_frames}")
    if (contract.height, contract.width) != (config.image_size, config.image_size):
        problems.append(f"its contract crops {contract.height}x{contract.width}, the model "
                        f"takes {config.image_size}x{config.image_size}")
    if config.num_frames % config.tubelet_size or config.image_size % config.patch_size:
        problems.append(f"{config.num_frames} frames x {config.image_size} px do not tile into "
                        f"tubelets of {config.tubelet_size} and patches of {config.patch_size}")
    if problems:
        raise UsageError(f"--model {spec}: {'; '.join(problems)}; pre-train and fine-tune with "
                         "the same preset or checkpoint, or fix its videoedge.json")


# transformers renames these on load (the original VideoMAE checkpoints' names)
_RENAMES = ((".attention.attention.q_bias", ".attention.attention.query.bias"),
            (".attention.attention.v_bias", ".attention.attention.value.bias"))


def checkpoint_tensors(where: str) -> dict:
    """Every tensor of a checkpoint as stored (safetensors or pytorch_model.bin, sharded or
    not), read from the directory or the hub cache, names mapped as transformers maps them."""
    import torch

    folder = Path(where)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(where, allow_patterns=["*.safetensors", "*.bin",
                                                               "*.json"]))
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    state = {}
    for f in files:
        if f.suffix == ".safetensors":
            from safetensors.torch import load_file

            state.update(load_file(str(f)))
        else:
            state.update(torch.load(str(f), map_location="cpu", weights_only=True))
    renamed = {}
    for key, value in state.items():
        for old, new in _RENAMES:
            key = key.replace(old, new)
        if not key.startswith("videomae.") and key.startswith(("embeddings.", "encoder.")):
            key = "videomae." + key  # a bare VideoMAEModel checkpoint
        renamed[key] = value
    return renamed


@dataclass
class EncoderReport:
    """What `from_pretrained` really put in the model, checked tensor by tensor."""

    loaded: int  # encoder tensors equal to the checkpoint's
    initialised: list[str]  # model tensors the checkpoint does not have (the new head)
    dropped: int  # checkpoint tensors the model has no place for (a pre-training decoder)
    source_class: str  # the checkpoint's architecture

    def line(self, spec: str) -> str:
        new = ", ".join(self.initialised) if self.initialised else "nothing"
        dropped = f"; {self.dropped} pre-training tensors (decoder, mask token) not used" \
            if self.dropped else ""
        return (f"loaded {self.loaded} encoder tensors from {spec} ({self.source_class}), each "
                f"checked against the checkpoint; initialised: {new}{dropped}")


def encoder_report(model, where: str) -> EncoderReport:
    """Compare every tensor of `model.videomae` with the checkpoint; raise if one differs."""
    import torch

    stored = checkpoint_tensors(where)
    current = model.state_dict()
    loaded, wrong = 0, []
    for key, value in current.items():
        if key not in stored or not key.startswith("videomae."):
            continue
        if stored[key].shape == value.shape and torch.equal(stored[key].to(value.dtype), value):
            loaded += 1
        else:
            wrong.append(key)
    if wrong:
        raise UsageError(f"{where}: {len(wrong)} encoder tensor(s) did not load as stored "
                         f"({', '.join(wrong[:3])}); the checkpoint does not fit this "
                         "VideoMAE configuration")
    initialised = [k for k in current if k not in stored or stored[k].shape != current[k].shape]
    dropped = len([k for k in stored if k not in current])
    archs = getattr(model.config, "architectures", None) or ["VideoMAE"]
    return EncoderReport(loaded, initialised, dropped, archs[0])


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
