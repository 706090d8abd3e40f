"""The clips every variant sees: real clips decoded and preprocessed by the bundle's contract
(runtime/video.py, the runtime's own path), one centre clip per test video, saved once as .npy
so each worker process loads the identical array."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videoedge.runtime.contract import Contract
from videoedge.runtime.errors import DataError

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass
class ClipSet:
    clips: np.ndarray  # (N, T, 3, H, W) float32, preprocessed by the contract
    labels: np.ndarray  # (N,) int64 label ids, -1 where unknown (noise clips)
    videos: list[str]  # the file each clip came from ("" for noise)
    source: str  # how the clips were made, for the report


def list_videos(data: Path, split: str, contract: Contract) -> tuple[list[tuple[Path, int]], int]:
    """(video, label id) for DATA/split/<Class>/*, classes in the contract's label order,
    videos interleaved across classes (so the first K cover as many classes as possible);
    and how many videos were left out because their class is not in the contract."""
    root = Path(data) / split
    if not root.is_dir():
        raise DataError(f"{root} does not exist; pass a dataset root with a {split}/ folder")
    per_class: list[list[tuple[Path, int]]] = []
    unknown = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES)
        if folder.name not in contract.label2id:
            unknown += len(files)
            continue
        per_class.append([(f, contract.label2id[folder.name]) for f in files])
    interleaved = [item for group in _zip_longest(per_class) for item in group]
    if not interleaved:
        raise DataError(f"{root} has no videos of the model's classes "
                        f"({', '.join(contract.labels[:5])}...); is this the right dataset?")
    return interleaved, unknown


def _zip_longest(groups: list[list]) -> list[list]:
    longest = max((len(g) for g in groups), default=0)
    return [[g[i] for g in groups if i < len(g)] for i in range(longest)]


def centre_clip(path: Path, contract: Contract) -> np.ndarray:
    from videoedge.runtime.preprocess import uniform_clip_starts
    from videoedge.runtime.video import clips_at, probe_duration

    duration = probe_duration(path)
    start = uniform_clip_starts(duration, contract.clip_seconds, 1)
    return clips_at(path, contract, start)[0].pixel_values


def real_clips(data: Path, split: str, contract: Contract, limit: int | None) -> ClipSet:
    """One centre clip from each of the first `limit` videos (None: all of them)."""
    videos, unknown = list_videos(data, split, contract)
    videos = videos[:limit] if limit is not None else videos
    clips = np.stack([centre_clip(path, contract) for path, _ in videos]).astype(np.float32)
    note = f", {unknown} videos of other classes left out" if unknown else ""
    return ClipSet(clips, np.array([label for _, label in videos], dtype=np.int64),
                   [str(p) for p, _ in videos],
                   f"{len(videos)} real clips (centre clip of each {split} video{note})")


def noise_clips(contract: Contract, n: int, seed: int = 0) -> ClipSet:
    """Standard-normal clips (already 'normalised'): for timing only, when no data is given."""
    rng = np.random.default_rng(seed)
    clips = rng.standard_normal((n, *contract.input_shape(1)[1:]), dtype=np.float32)
    return ClipSet(clips, np.full(n, -1, dtype=np.int64), [""] * n,
                   f"{n} random-noise clips (no --data given)")


def cycle_to(clips: ClipSet, n: int) -> ClipSet:
    """Exactly n clips, repeating from the start when there are fewer."""
    idx = np.arange(n) % len(clips.clips)
    return ClipSet(clips.clips[idx], clips.labels[idx], [clips.videos[i] for i in idx],
                   clips.source)
