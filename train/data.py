"""Folder datasets the guide's way: PyTorchVideo `LabeledVideoDataset`, clip samplers, transforms.

Layout (UCF101, the Hugging Face guide's subset): DATA/{train,val,test}/<Class>/<video>.
Labels are the sorted class folder names of DATA/train. Before any training starts every
video is probed with the training decoder (PyAV): files that cannot be decoded and videos
shorter than one clip are skipped, counted and reported, never silently dropped (PyTorchVideo
itself would retry past them with only a debug log).

Train transform (the guide's): UniformTemporalSubsample -> /255 -> Normalize ->
RandomShortSideScale -> RandomCrop -> RandomHorizontalFlip (optional).
Eval transform: the contract's, `videoedge.runtime.preprocess.preprocess_clip`, the same
function the runtime and the export parity check call.
"""

from __future__ import annotations

import math
import re
import sys
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from videoedge.runtime.contract import Contract
from videoedge.runtime.errors import DataError
from videoedge.runtime.preprocess import preprocess_clip, uniform_clip_starts

SPLITS = ("train", "val", "test")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
GROUP_RE = re.compile(r"_g(\d+)_c\d+", re.IGNORECASE)  # v_<Class>_gXX_cYY (UCF101)
TRAIN_SCALE_MAX = 320 / 256  # the guide: RandomShortSideScale(256, 320) before RandomCrop(224)


def pytorchvideo_transforms():
    """`import pytorchvideo.transforms`, which needs `torchvision.transforms.functional_tensor`
    (renamed `_functional_tensor` in torchvision 0.17; only AugMix uses it)."""
    if "torchvision.transforms.functional_tensor" not in sys.modules:
        import torchvision.transforms._functional_tensor as ft

        sys.modules["torchvision.transforms.functional_tensor"] = ft
    with warnings.catch_warnings():  # torch.jit's FutureWarning on pytorchvideo's own code
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        import pytorchvideo.transforms

    return pytorchvideo.transforms


# -- scanning -------------------------------------------------------------------------------
@dataclass
class Video:
    path: str
    label: int  # index into the labels
    duration: float  # seconds, as the training decoder (PyAV) reports it


@dataclass
class Split:
    """The usable videos of one split and the files that were skipped, with the reason."""

    name: str
    root: Path
    videos: list[Video] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def num_videos(self) -> int:
        return len(self.videos)

    def report(self) -> list[str]:
        """One line per skipped file (for stderr and metrics.json)."""
        return [f"skipped {p}: {why}" for p, why in self.skipped]


def class_folders(data: Path, split: str = "train") -> list[str]:
    """Sorted class folder names of DATA/<split>: the labels, in id order."""
    root = Path(data) / split
    if not Path(data).is_dir():
        raise DataError(f"dataset folder {data} does not exist; make one with "
                        f"`videoedge data synth {data}` or pass a UCF101-style folder")
    if not root.is_dir():
        raise DataError(f"{data} has no {split}/ folder; expected "
                        f"{data}/{{train,val,test}}/<Class>/<video>")
    labels = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not labels:
        raise DataError(f"{root} has no class folders; expected {root}/<Class>/<video>")
    if len(labels) < 2:
        raise DataError(f"{root} has one class ({labels[0]}); a classifier needs at least 2")
    return labels


def probe(path: Path) -> float:
    """Duration in seconds by the training decoder; raises on a file it cannot decode."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            raise ValueError("no duration")
        next(container.decode(video=0))  # at least one frame decodes
    return duration


def scan_split(data: str | Path, split: str, labels: list[str], clip_seconds: float,
               *, required: bool = True) -> Split:
    """Probe every file of DATA/<split>/<Class>/; skip (and record) undecodable or short ones."""
    root = Path(data) / split
    result = Split(split, root)
    if not root.is_dir():
        if required:
            raise DataError(f"{Path(data)} has no {split}/ folder; expected "
                            f"{data}/{{train,val,test}}/<Class>/<video>")
        return result
    present = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [c for c in present if c not in labels]
    if unknown:
        raise DataError(f"{root} has classes that train/ lacks: {', '.join(unknown)}; "
                        "every split needs the same class folders")
    for label_id, name in enumerate(labels):
        folder = root / name
        files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        kept = 0
        for f in files:
            try:
                duration = probe(f)
            except Exception as e:  # noqa: BLE001 - any decoder failure means: skip it, say so
                why = "not a video" if f.suffix.lower() not in VIDEO_SUFFIXES else "cannot be decoded"
                result.skipped.append((str(f), f"{why} ({type(e).__name__}: {e})"[:200]))
                continue
            if duration + 1e-6 < clip_seconds:
                why = f"shorter than one clip ({duration:.2f} s < {clip_seconds:.2f} s)"
                result.skipped.append((str(f), why))
                continue
            result.videos.append(Video(str(f), label_id, duration))
            kept += 1
        if kept == 0 and (required or files):
            why = "has no videos" if not files else "has no usable videos (all skipped, see above)"
            raise DataError(f"class folder {folder} {why}; add videos or remove the folder "
                            "from every split")
    return result


def group_leaks(data: str | Path, splits=SPLITS) -> list[str]:
    """UCF101 groups (gXX) of a class found in more than one split: '<Class> gXX: train, test'.

    Clips of one group share a scene; one group in two splits leaks test data into training
    (the guide's data-leakage point)."""
    seen: dict[tuple[str, str], set[str]] = {}
    for split in splits:
        root = Path(data) / split
        if not root.is_dir():
            continue
        for f in root.glob("*/*"):
            m = GROUP_RE.search(f.stem)
            if m:
                seen.setdefault((f.parent.name, f"g{int(m.group(1)):02d}"), set()).add(split)
    return [f"{c} {g}: {', '.join(s for s in splits if s in where)}"
            for (c, g), where in sorted(seen.items()) if len(where) > 1]


# -- transforms -----------------------------------------------------------------------------
class ClipColorJitter:
    """Colour augmentation of a whole clip, (C, T, H, W) in 0..1, the same for every frame:
    brightness and contrast each scaled by a factor in [1 - s, 1 + s], the colour channels
    permuted with probability `shuffle`, grey with probability `gray`.

    Scenes (lighting, object colour) are what a small video set has few of; this makes the
    model look at the motion instead (measured across dataset draws: train/README.md).
    Randomness from torch's generator, which DataLoader seeds per worker."""

    def __init__(self, strength: float = 0.4, shuffle: float = 0.5, gray: float = 0.2):
        self.strength, self.shuffle, self.gray = strength, shuffle, gray

    def __call__(self, x):
        import torch

        u = torch.rand(5)
        brightness = 1 + self.strength * (2 * float(u[0]) - 1)
        contrast = 1 + self.strength * (2 * float(u[1]) - 1)
        mean = x.mean()
        x = (x - mean) * contrast + mean * brightness
        if float(u[2]) < self.shuffle:
            x = x[torch.randperm(x.shape[0])]
        if float(u[3]) < self.gray:
            x = x.mean(dim=0, keepdim=True).expand_as(x)
        return x.clamp(0, 1)


def train_video_transforms(contract: Contract, *, flip: bool = True,
                           color: bool = False) -> list:
    """The guide's training steps on a (C, T, H, W) 0..255 clip, sizes from the contract:
    short side scaled to a random size in [S, 1.25 S], then a random H x W crop; with `color`,
    `ClipColorJitter` before the normalisation."""
    from torchvision.transforms import Lambda, RandomCrop

    T = pytorchvideo_transforms()
    size = contract.resize_short_side
    steps = [
        T.UniformTemporalSubsample(contract.num_frames),
        Lambda(lambda x: x * contract.scale),
        *([ClipColorJitter()] if color else []),
        T.Normalize(contract.mean, contract.std),
        T.RandomShortSideScale(min_size=size, max_size=max(size, round(size * TRAIN_SCALE_MAX))),
        RandomCrop((contract.height, contract.width)),
    ]
    if flip:
        from torchvision.transforms import RandomHorizontalFlip

        steps.append(RandomHorizontalFlip(p=0.5))
    return steps


def train_transform(contract: Contract, *, flip: bool = True, color: bool = False):
    """{"video": (C, T, H, W) 0..255, "label"} -> {"pixel_values": (T, C, H, W), "label"}."""
    from torchvision.transforms import Compose

    video = Compose(train_video_transforms(contract, flip=flip, color=color))

    def transform(sample: dict) -> dict:
        x = video(sample["video"])  # (C, T, H, W)
        return {"pixel_values": x.permute(1, 0, 2, 3).contiguous(), "label": sample["label"],
                "video_name": sample["video_name"]}

    return transform


class EvalTransform:
    """The contract's eval transform on a decoded clip: exactly `preprocess_clip`.

    A class (not a closure) so DataLoader workers can pickle it."""

    def __init__(self, contract: Contract):
        self.contract = contract

    def __call__(self, sample: dict) -> dict:
        import torch

        frames = sample["video"].permute(1, 2, 3, 0).numpy()  # (C,T,H,W) -> (T,H,W,C) 0..255
        x = preprocess_clip(frames, self.contract)
        return {"pixel_values": torch.from_numpy(x), "label": sample["label"],
                "video_name": sample["video_name"]}


def centered_clip_sampler(clip_seconds: float):
    """One clip per video, centred: the single-view protocol (`uniform_clip_starts(d, c, 1)`)."""
    from pytorchvideo.data.clip_sampling import ClipInfo, ClipSampler

    class CenteredClipSampler(ClipSampler):
        def __call__(self, last_clip_time, video_duration, annotation):
            start = uniform_clip_starts(float(video_duration), float(self._clip_duration), 1)[0]
            start = Fraction(start).limit_denominator(1_000_000)
            return ClipInfo(start, start + self._clip_duration, 0, 0, True)

    return CenteredClipSampler(Fraction(clip_seconds).limit_denominator(1_000_000))


def repeated_random_clip_sampler(clip_seconds: float, repeats: int):
    """A random clip per video, handed out `repeats` times (VideoMAE's repeated augmentation).

    PyTorchVideo decodes a clip once and re-applies the (random) transform for every further
    `aug_index`, so each repeat is a new crop, scale and flip of the same frames at almost no
    decoding cost. With repeats=1 it is `make_clip_sampler("random", ...)`."""
    import random

    from pytorchvideo.data.clip_sampling import ClipInfo, ClipSampler

    class RepeatedRandomClipSampler(ClipSampler):
        def __init__(self, clip_duration, repeats):
            super().__init__(clip_duration)
            self.repeats, self._aug, self._start = repeats, 0, Fraction(0)

        def __call__(self, last_clip_time, video_duration, annotation):
            if self._aug == 0:
                latest = max(float(video_duration) - float(self._clip_duration), 0.0)
                self._start = Fraction(random.uniform(0, latest))
            aug = self._aug
            self._aug = (self._aug + 1) % self.repeats
            return ClipInfo(self._start, self._start + self._clip_duration, 0, aug,
                            self._aug == 0)

        def reset(self):
            self._aug = 0

    return RepeatedRandomClipSampler(Fraction(clip_seconds).limit_denominator(1_000_000),
                                     repeats)


# -- datasets -------------------------------------------------------------------------------
def video_dataset(split: Split, contract: Contract, *, train: bool, flip: bool = True,
                  repeats: int = 1, color: bool = False):
    """A PyTorchVideo `LabeledVideoDataset` over the scanned videos of one split.

    train: a random clip per video per epoch (each decoded clip given `repeats` times with
    its own augmentation), random video order.
    eval: the centred clip of each video, in order, the contract's transform."""
    import torch
    from pytorchvideo.data import LabeledVideoDataset
    from pytorchvideo.data.labeled_video_paths import LabeledVideoPaths

    paths = LabeledVideoPaths([(v.path, v.label) for v in split.videos])
    if train:
        sampler = repeated_random_clip_sampler(contract.clip_seconds, repeats)
        video_sampler = torch.utils.data.RandomSampler
        transform = train_transform(contract, flip=flip, color=color)
    else:
        sampler, video_sampler = centered_clip_sampler(contract.clip_seconds), \
            torch.utils.data.SequentialSampler
        transform = EvalTransform(contract)
    return LabeledVideoDataset(paths, sampler, video_sampler=video_sampler, transform=transform,
                               decode_audio=False, decoder="pyav")


def batches_per_epoch(num_videos: int, batch_size: int, num_workers: int,
                      repeats: int = 1) -> int:
    """Batches one pass over an iterable dataset yields: PyTorchVideo splits the videos
    between DataLoader workers (np.array_split) and each worker batches its share (each
    video giving `repeats` clips)."""
    shares = np.array_split(np.arange(num_videos), max(num_workers, 1))
    return sum(math.ceil(len(s) * repeats / batch_size) for s in shares)


def collate(examples: list[dict]) -> dict:
    """-> {"pixel_values": (B, T, C, H, W), "labels": (B,)}, the guide's collate_fn."""
    import torch

    return {"pixel_values": torch.stack([e["pixel_values"] for e in examples]),
            "labels": torch.tensor([int(e["label"]) for e in examples])}
