"""Real clips for parity and calibration: videos of a dataset split, decoded and preprocessed
by the contract with the runtime's own decoder (so parity measures what the runtime will
feed, not random tensors).

A dataset is the UCF101 layout `DATA/<split>/<Class>/<video>`; a split folder
(`DATA/test`) may be given directly. Class folder names must be labels of the model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videoedge.runtime.contract import Contract
from videoedge.runtime.errors import DataError, UsageError

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass
class LabelledVideo:
    path: Path
    label: int  # index into contract.labels


@dataclass
class ClipSet:
    pixel_values: np.ndarray  # (N, T, 3, H, W) float32
    labels: np.ndarray  # (N,) int64, index into contract.labels
    videos: list[str]  # source video of each clip (relative to the split folder)
    starts: list[float]  # start time of each clip, seconds
    split_dir: Path  # where they came from

    def __len__(self) -> int:
        return len(self.labels)


def split_dir(root: str | os.PathLike, split: str, *, flag: str) -> Path:
    """DATA/<split>, or DATA itself when it is already a split folder (class folders of
    videos). `flag` names the option in messages (--data, --calib)."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{flag} {root}: no such dataset folder")
    if (root / split).is_dir():
        return root / split
    if _class_folders(root):
        return root
    others = [s for s in ("test", "val", "train") if s != split and (root / s).is_dir()]
    hint = f" (it has {', '.join(others)}/: pass --split {others[0]})" if others and \
        flag == "--data" else ""
    raise UsageError(f"{flag} {root} has no {split}/ split and no class folders of videos"
                     f"{hint}; expected the UCF101 layout {root}/{split}/<Class>/<video>.avi")


def _class_folders(directory: Path) -> list[Path]:
    return sorted(d for d in directory.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and _videos(d))


def _videos(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def list_videos(directory: Path, contract: Contract, *, flag: str) -> list[LabelledVideo]:
    """Every video of a split folder with its label id; classes in videos order, then name.

    Class folders that are not labels of the model are an error (a dataset made for another
    model), not skipped: parity or calibration on the wrong classes would mean nothing."""
    classes = _class_folders(directory)
    if not classes:
        raise DataError(f"{flag} {directory} has no class folders with videos in them")
    label2id = contract.label2id
    foreign = [c.name for c in classes if c.name not in label2id]
    if foreign:
        raise UsageError(
            f"{flag} {directory} has classes the model does not know: {', '.join(foreign[:5])}"
            f"{' ...' if len(foreign) > 5 else ''} (the model's labels: "
            f"{', '.join(contract.labels[:10])}{' ...' if len(contract.labels) > 10 else ''}); "
            "use the dataset the model was trained on")
    return [LabelledVideo(v, label2id[c.name]) for c in classes for v in _videos(c)]


def round_robin(videos: list[LabelledVideo], limit: int) -> list[LabelledVideo]:
    """Up to `limit` videos taken one class at a time, so a small budget covers every class."""
    by_label: dict[int, list[LabelledVideo]] = {}
    for v in videos:
        by_label.setdefault(v.label, []).append(v)
    queues = [list(q) for _, q in sorted(by_label.items())]
    out: list[LabelledVideo] = []
    while len(out) < limit and any(queues):
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out


def clips_of_video(video: LabelledVideo, contract: Contract, clips_per_video: int):
    """`clips_per_video` clips spread evenly over the video (the multi-view protocol)."""
    from videoedge.runtime.preprocess import uniform_clip_starts
    from videoedge.runtime.video import clips_at, probe_duration

    duration = probe_duration(video.path)
    starts = uniform_clip_starts(duration, contract.clip_seconds, clips_per_video)
    return clips_at(video.path, contract, starts)


def parity_clips(root: str | os.PathLike, split: str, contract: Contract, *,
                 clips_per_video: int = 2, max_clips: int = 96, flag: str = "--data") -> ClipSet:
    """Held-out clips with their labels, at most `max_clips`, classes round-robin."""
    directory = split_dir(root, split, flag=flag)
    videos = round_robin(list_videos(directory, contract, flag=flag),
                         -(-max_clips // clips_per_video))
    arrays, labels, names, starts = [], [], [], []
    for video in videos:
        for clip in clips_of_video(video, contract, clips_per_video):
            if len(arrays) == max_clips:
                break
            arrays.append(clip.pixel_values)
            labels.append(video.label)
            names.append(str(video.path.relative_to(directory)))
            starts.append(round(clip.start, 4))
    return ClipSet(np.stack(arrays), np.asarray(labels, dtype=np.int64), names, starts,
                   directory)


def calibration_clips(root: str | os.PathLike, contract: Contract, count: int
                      ) -> Iterator[np.ndarray]:
    """`count` training clips, one (1, T, 3, H, W) array at a time, decoded when asked for:
    calibration never holds more than one clip. Videos round-robin over classes, one clip
    from the middle of each, more per video only when there are fewer videos than `count`.

    The folder and its labels are checked now; decoding happens as the iterator is read."""
    directory = split_dir(root, "train", flag="--calib")
    videos = list_videos(directory, contract, flag="--calib")
    per_video = max(1, -(-count // len(videos)))
    chosen = round_robin(videos, min(count, len(videos)))

    def generate() -> Iterator[np.ndarray]:
        produced = 0
        for video in chosen:
            for clip in clips_of_video(video, contract, per_video):
                if produced == count:
                    return
                produced += 1
                yield clip.pixel_values[None]

    return generate()
