"""The contract: everything needed to turn raw frames into the model's input tensor.

The trained model directory carries it (`videoedge.json`), the export copies it into every
ONNX file (`metadata_props["videoedge"]`, JSON) and into `bundle/videoedge.json`, and the
runtime reads it and nothing else. See DESIGN.md, "The contract".
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ContractError

CONTRACT_FILENAME = "videoedge.json"
METADATA_KEY = "videoedge"
SCHEMA_VERSION = 1

# The Kinetics/ImageNet statistics VideoMAE checkpoints were trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

PRECISIONS = ("fp32", "fp16", "int8", "int8-static")


@dataclass
class Contract:
    labels: list[str]  # class names in logit (id) order
    num_frames: int = 16  # frames the model sees per clip (T)
    frame_stride: int = 4  # clip spans num_frames * frame_stride frames at reference_fps
    reference_fps: float = 30.0  # fps at which the stride is defined; sampling is by time
    height: int = 224  # model input height after the centre crop
    width: int = 224  # model input width after the centre crop
    resize_short_side: int = 224  # eval resize: short side to this, then centre crop
    mean: tuple[float, float, float] = IMAGENET_MEAN  # per RGB channel, after scaling
    std: tuple[float, float, float] = IMAGENET_STD
    scale: float = 1.0 / 255.0  # uint8 -> float multiplier, applied before mean/std
    input_name: str = "pixel_values"
    output_name: str = "logits"
    layout: str = "BTCHW"  # (batch, time, channel, height, width)
    color: str = "RGB"
    interpolation: str = "bilinear-half-pixel"  # cv2.INTER_LINEAR == torch align_corners=False
    precision: str = "fp32"  # precision of the weights of the file this contract describes
    source: str = ""  # checkpoint the model was trained from / exported from
    versions: dict[str, str] = field(default_factory=dict)  # library versions that made it
    schema: int = SCHEMA_VERSION

    def __post_init__(self):
        self.mean = tuple(float(x) for x in self.mean)
        self.std = tuple(float(x) for x in self.std)
        self.labels = [str(x) for x in self.labels]
        problems = []
        if not self.labels:
            problems.append("labels is empty")
        if len(set(self.labels)) != len(self.labels):
            problems.append("labels has duplicates")
        for name in ("num_frames", "frame_stride", "height", "width", "resize_short_side"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.reference_fps, (int, float)) and self.reference_fps > 0):
            problems.append(f"reference_fps must be > 0, got {self.reference_fps!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            problems.append("mean and std need 3 values each, std > 0")
        if self.layout != "BTCHW":
            problems.append(f"layout {self.layout!r} is not supported (only BTCHW)")
        if self.color != "RGB":
            problems.append(f"color {self.color!r} is not supported (only RGB)")
        if self.precision not in PRECISIONS:
            problems.append(f"precision {self.precision!r} is not one of {PRECISIONS}")
        if isinstance(self.resize_short_side, int) and isinstance(self.height, int) and (
            self.resize_short_side < min(self.height, self.width)
        ):
            problems.append("resize_short_side must be >= the crop size")
        if problems:
            raise ContractError("invalid videoedge contract: " + "; ".join(problems))

    # -- derived --------------------------------------------------------------------------
    @property
    def clip_seconds(self) -> float:
        """Length in seconds of the window one clip covers (16 x 4 / 30 = 2.13 s)."""
        return self.num_frames * self.frame_stride / self.reference_fps

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    def input_shape(self, batch: int | str = 1) -> tuple:
        return (batch, self.num_frames, 3, self.height, self.width)

    # -- (de)serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        d["clip_seconds"] = round(self.clip_seconds, 6)  # informative; recomputed on load
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "contract") -> "Contract":
        if not isinstance(d, dict):
            raise ContractError(f"{where}: expected a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if d.get("schema", SCHEMA_VERSION) > SCHEMA_VERSION:
            raise ContractError(
                f"{where}: contract schema {d['schema']} is newer than this videoedge "
                f"understands ({SCHEMA_VERSION}); upgrade videoedge"
            )
        if "labels" not in d:
            raise ContractError(f"{where}: the contract has no labels")
        try:
            return cls(**d)
        except TypeError as e:
            raise ContractError(f"{where}: malformed contract ({e})") from None

    @classmethod
    def from_json(cls, text: str, *, where: str = "contract") -> "Contract":
        try:
            d = json.loads(text)  # JSON only: metadata is data, never code
        except (json.JSONDecodeError, TypeError) as e:
            raise ContractError(f"{where}: the contract is not valid JSON ({e})") from None
        return cls.from_dict(d, where=where)

    def save(self, directory: str | os.PathLike) -> Path:
        from . import atomic

        return atomic.write_text(Path(directory) / CONTRACT_FILENAME, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Contract":
        """Load from a model directory, a bundle directory, or a videoedge.json file."""
        path = Path(path)
        file = path / CONTRACT_FILENAME if path.is_dir() else path
        if not file.is_file():
            raise ContractError(
                f"{path} has no {CONTRACT_FILENAME}: it was not made by `videoedge train` or "
                "`videoedge export`; train with videoedge, or write one with "
                "`videoedge.runtime.Contract(...).save(dir)`"
            )
        return cls.from_json(file.read_text(encoding="utf-8"), where=str(file))

    def replace(self, **changes) -> "Contract":
        return dataclasses.replace(self, **changes)
