"""Decoding video files into clips by the contract, with OpenCV, streaming.

Frames are read until the decoder says the video has ended: the frame count a container
reports is never trusted to stop a read. Each frame is prepared (scaled, resized, cropped)
once on arrival and only the last clip's worth is kept, so memory is bounded by one clip
whatever the video's length or resolution.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .contract import Contract
from .errors import SourceError
from .preprocess import normalize, prepare_frame, subsample_indices

DEFAULT_FPS = 30.0  # used when a file reports no usable frame rate


@dataclass
class Clip:
    start: float  # seconds, window start
    end: float  # seconds, window end (exclusive)
    frames: int  # decoded frames that fell in the window (before subsampling)
    pixel_values: np.ndarray  # (num_frames, 3, H, W) float32, the model input of one clip


def open_file(path: str | os.PathLike) -> tuple[cv2.VideoCapture, float]:
    """Open a video file; return the capture and its fps (DEFAULT_FPS when it reports none)."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path} is a folder; pass a video file")
    if path.stat().st_size == 0:
        raise SourceError(f"{path} is empty (0 bytes); re-copy or re-record it")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SourceError(f"{path} cannot be opened as a video (not a video, or a codec "
                          "OpenCV lacks); check it with `ffprobe`")
    fps = cap.get(cv2.CAP_PROP_FPS)
    if not (fps and np.isfinite(fps) and 1.0 <= fps <= 1000.0):
        fps = DEFAULT_FPS
    return cap, float(fps)


def iter_frames(path: str | os.PathLike) -> Iterator[tuple[float, np.ndarray]]:
    """(timestamp seconds, RGB frame) for every decodable frame, in order.

    Timestamps come from the container (variable frame rate safe) when they increase, else
    from index / fps."""
    cap, fps = open_file(path)
    try:
        index, last_t = 0, -1.0
        while True:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not np.isfinite(t) or t <= last_t or (index > 0 and t == 0):
                t = index / fps
            t = round(t, 6)
            last_t = t
            index += 1
            rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB if bgr.ndim == 2 else cv2.COLOR_BGR2RGB)
            yield t, rgb
    finally:
        cap.release()


def sliding_clips(path: str | os.PathLike, contract: Contract,
                  hop_seconds: float | None = None) -> Iterator[Clip]:
    """Clips across a whole file, one every `hop_seconds` (default: half a clip).

    A clip is the frames with start <= t < start + clip_seconds, uniformly subsampled to
    num_frames. When the last window ends before the video does, one more clip aligned to the
    end covers the tail. A video shorter than one clip yields one clip made of all its frames
    (frames repeat to fill num_frames)."""
    clip_s = contract.clip_seconds
    hop = hop_seconds if hop_seconds is not None else clip_s / 2
    if hop <= 0:
        raise ValueError("hop_seconds must be > 0")
    recent: collections.deque = collections.deque()  # (t, prepared frame) of the last clip_s
    next_start = 0.0
    emitted_end = None
    last_t = None
    for t, rgb in iter_frames(path):
        while t >= next_start + clip_s - 1e-6:  # the window [next_start, +clip_s) is complete
            window = [(ft, f) for ft, f in recent if ft >= next_start - 1e-6]
            if window:
                yield _make_clip(next_start, next_start + clip_s, window, contract)
                emitted_end = next_start + clip_s
            next_start += hop
        recent.append((t, prepare_frame(rgb, contract)))
        while recent and recent[0][0] < min(next_start, t - clip_s) - 1e-6:
            recent.popleft()
        last_t = t
    if last_t is None:
        raise SourceError(f"{path}: no frame could be decoded (truncated or corrupt file?)")
    if emitted_end is None:  # shorter than one clip: everything we have
        yield _make_clip(0.0, clip_s, list(recent), contract)
    elif emitted_end < last_t + 1e-6:  # tail not covered: one clip aligned to the end
        start = max(0.0, last_t - clip_s + 1e-6)
        window = [(ft, f) for ft, f in recent if ft >= start - 1e-6]
        yield _make_clip(start, start + clip_s, window, contract)


def _make_clip(start: float, end: float, window: list, contract: Contract) -> Clip:
    idx = subsample_indices(len(window), contract.num_frames)
    frames = np.stack([window[i][1] for i in idx])
    return Clip(start, end, len(window), normalize(frames, contract))


def clips_at(path: str | os.PathLike, contract: Contract, starts: list[float]) -> list[Clip]:
    """Clips at the given start times (e.g. `uniform_clip_starts`), in one decoding pass.

    Keeps prepared frames only for windows still open."""
    clip_s = contract.clip_seconds
    windows = sorted(starts)
    buffers: dict[int, list] = {i: [] for i in range(len(windows))}
    last = None
    for t, rgb in iter_frames(path):
        last = (t, rgb)
        needed = [i for i, s in enumerate(windows) if s - 1e-6 <= t < s + clip_s - 1e-6]
        if needed:
            prepared = prepare_frame(rgb, contract)
            for i in needed:
                buffers[i].append((t, prepared))
        if t >= windows[-1] + clip_s:
            break
    if last is None:
        raise SourceError(f"{path}: no frame could be decoded (truncated or corrupt file?)")
    clips = []
    for i, s in enumerate(windows):
        window = buffers[i]
        if not window:  # a start past the end (reported duration lied): use the last frame
            window = [(last[0], prepare_frame(last[1], contract))]
        clips.append(_make_clip(s, s + clip_s, window, contract))
    return clips


def probe_duration(path: str | os.PathLike) -> float:
    """Duration in seconds by decoding to the end (frame counts in headers can lie)."""
    last_t, fps = None, DEFAULT_FPS
    cap, fps = open_file(path)
    cap.release()
    for t, _ in iter_frames(path):
        last_t = t
    if last_t is None:
        raise SourceError(f"{path}: no frame could be decoded (truncated or corrupt file?)")
    return last_t + 1.0 / fps
