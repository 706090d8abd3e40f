"""Named VideoMAE presets trained from scratch, and the model directory they are saved to.

A preset fixes the architecture *and* the contract's sampling (frames, stride, input size),
because the two must agree. `tiny` is the embedded default (trains on this 2-core CPU in
minutes); `base` is VideoMAE-base's shape (16x224x224, 86M parameters) with random weights,
for exercising the real-checkpoint path without a network.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from videoedge.runtime.contract import Contract
from videoedge.runtime.errors import UsageError


@dataclass(frozen=True)
class Preset:
    name: str
    image_size: int  # square input, after the centre crop
    num_frames: int  # frames per clip (T)
    frame_stride: int  # clip = num_frames * frame_stride frames at 30 fps
    patch_size: int
    tubelet_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    resize_short_side: int | None = None  # eval resize; default = image_size
    extra: dict = field(default_factory=dict)  # other VideoMAEConfig fields

    def contract(self, labels: list[str], *, source: str = "") -> Contract:
        return Contract(
            labels=list(labels), num_frames=self.num_frames, frame_stride=self.frame_stride,
            reference_fps=30.0, height=self.image_size, width=self.image_size,
            resize_short_side=self.resize_short_side or self.image_size,
            source=source or f"preset:{self.name}",
        )

    def config(self, labels: list[str]):
        from transformers import VideoMAEConfig

        return VideoMAEConfig(
            image_size=self.image_size, patch_size=self.patch_size, num_channels=3,
            num_frames=self.num_frames, tubelet_size=self.tubelet_size,
            hidden_size=self.hidden_size, num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size, use_mean_pooling=True,
            id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
            **self.extra,
        )


PRESETS: dict[str, Preset] = {
    # 8 frames x stride 8 at 30 fps = 2.13 s, the guide's clip length; 64x64 input
    # (the decoder_* fields size the pre-training decoder; fine-tuning drops it)
    "tiny": Preset("tiny", image_size=64, num_frames=8, frame_stride=8, patch_size=16,
                   tubelet_size=2, hidden_size=192, num_hidden_layers=4,
                   num_attention_heads=3, intermediate_size=768,
                   extra={"decoder_hidden_size": 96, "decoder_num_hidden_layers": 2,
                          "decoder_num_attention_heads": 3, "decoder_intermediate_size": 384}),
    # for tests: as small as VideoMAE gets while still being a VideoMAE
    "micro": Preset("micro", image_size=32, num_frames=4, frame_stride=16, patch_size=16,
                    tubelet_size=2, hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=2, intermediate_size=64,
                    extra={"decoder_hidden_size": 32, "decoder_num_hidden_layers": 1,
                           "decoder_num_attention_heads": 2, "decoder_intermediate_size": 64}),
    # VideoMAE-base's architecture (MCG-NJU/videomae-base), random weights
    "base": Preset("base", image_size=224, num_frames=16, frame_stride=4, patch_size=16,
                   tubelet_size=2, hidden_size=768, num_hidden_layers=12,
                   num_attention_heads=12, intermediate_size=3072),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        near = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise UsageError(f"unknown preset {name!r}; {hint}presets: {', '.join(PRESETS)}") from None


def new_model(preset: str | Preset, labels: list[str], seed: int = 0):
    """A randomly initialised VideoMAEForVideoClassification for `preset`."""
    import torch
    from transformers import VideoMAEForVideoClassification

    preset = get_preset(preset) if isinstance(preset, str) else preset
    torch.manual_seed(seed)
    return VideoMAEForVideoClassification(preset.config(labels)).eval()


def image_processor(contract: Contract):
    """The HF image processor matching the contract (for `pipeline` and the hub)."""
    from transformers import VideoMAEImageProcessor

    return VideoMAEImageProcessor(
        size={"shortest_edge": contract.resize_short_side},
        crop_size={"height": contract.height, "width": contract.width},
        image_mean=list(contract.mean), image_std=list(contract.std),
        rescale_factor=contract.scale, do_center_crop=True, do_resize=True,
    )


def save_model_dir(model, contract: Contract, directory: str | os.PathLike) -> Path:
    """save_pretrained + processor config + the contract: a directory that
    `from_pretrained`, `pipeline("video-classification")` and `videoedge export` accept."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.config.id2label = contract.id2label
    model.config.label2id = contract.label2id
    model.save_pretrained(directory)
    image_processor(contract).save_pretrained(directory)
    contract.save(directory)
    return directory
