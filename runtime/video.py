"""Decoding video files into clips by the contract, with OpenCV, streaming.

Frames are read until the decoder says the video has ended: the frame count a container
reports is never trusted to stop a read. Each frame is prepared (scaled, resized, cropped)
once on arrival and only the last clip's worth is kept, so memory is bounded by one clip
whatever the video's length or resolution.
"""

from __future__ import annotations

import collections
import os
import time
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
    decode_s: float = 0.0  # decoder time spent since the previous clip (with DecodeStats)
    preprocess_s: float = 0.0  # resize/crop/normalise time since the previous clip
    ready_at: float = 0.0  # time.perf_counter() when the clip's last frame had been decoded
    last_frame_t: float = 0.0  # timestamp (s) of the newest frame in the clip


@dataclass
class DecodeStats:
    """Filled in while a file is decoded: per-stage time, frame count, duration."""

    decode_s: float = 0.0  # seconds in the decoder (grab, retrieve, colour conversion)
    preprocess_s: float = 0.0  # seconds in prepare_frame / normalize
    frames: int = 0  # frames the decoder produced (skipped ones included)
    fps: float = DEFAULT_FPS  # the file's frame rate (DEFAULT_FPS when it reports none)
    last_t: float | None = None  # timestamp of the last frame, seconds
    _mark: tuple = (0.0, 0.0)  # (decode_s, preprocess_s) at the previous clip

    @property
    def duration(self) -> float:
        """Seconds covered by the decoded frames (last timestamp + one frame)."""
        return 0.0 if self.last_t is None else self.last_t + 1.0 / self.fps

    def since_last_clip(self) -> tuple[float, float]:
        d, p = self.decode_s - self._mark[0], self.preprocess_s - self._mark[1]
        self._mark = (self.decode_s, self.preprocess_s)
        return d, p


def open_file(path: str | os.PathLike) -> tuple[cv2.VideoCapture, float]:
    """Open a video file; return the capture and its fps (DEFAULT_FPS when it reports none)."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path} is a folder; pass a video file")
    if path.stat().st_size == 0:
        raise SourceError(f"{path} is empty (0 bytes); re-copy or re-record it")
    # FFmpeg explicitly: OpenCV's own MJPEG-AVI reader prints raw header bytes on bad files
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise SourceError(f"{path} cannot be opened as a video (not a video, or a codec "
                          "OpenCV lacks); check it with `ffprobe`")
    fps = cap.get(cv2.CAP_PROP_FPS)
    if not (fps and np.isfinite(fps) and 1.0 <= fps <= 1000.0):
        fps = DEFAULT_FPS
    return cap, float(fps)


def iter_frames(path: str | os.PathLike,
                stats: DecodeStats | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(timestamp seconds, RGB frame) for every decodable frame, in order.

    Timestamps come from the container (variable frame rate safe) when they increase, else
    from index / fps."""
    for t, rgb in decode_frames(path, stats):
        yield t, rgb


def decode_frames(path: str | os.PathLike, stats: DecodeStats | None = None,
                  want=None) -> Iterator[tuple[float, np.ndarray | None]]:
    """Like `iter_frames`, but frames for which `want(t)` is False are only grabbed, not
    converted, and come out as (t, None): the cheap way past frames no clip needs."""
    stats = stats if stats is not None else DecodeStats()
    cap, fps = open_file(path)
    stats.fps = fps
    try:
        index, last_t = 0, -1.0
        while True:
            t0 = time.perf_counter()
            if not cap.grab():
                stats.decode_s += time.perf_counter() - t0
                break
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not np.isfinite(t) or t <= last_t or (index > 0 and t == 0):
                t = index / fps
            t = round(t, 6)
            last_t = t
            index += 1
            rgb = None
            if want is None or want(t):
                ok, bgr = cap.retrieve()
                if not ok or bgr is None:
                    stats.decode_s += time.perf_counter() - t0
                    break
                rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB if bgr.ndim == 2 else cv2.COLOR_BGR2RGB)
            stats.decode_s += time.perf_counter() - t0
            stats.frames += 1
            stats.last_t = t
            yield t, rgb
    finally:
        cap.release()


def _prepare(rgb: np.ndarray, contract: Contract, stats: DecodeStats) -> np.ndarray:
    t0 = time.perf_counter()
    out = prepare_frame(rgb, contract)
    stats.preprocess_s += time.perf_counter() - t0
    return out


def sliding_clips(path: str | os.PathLike, contract: Contract,
                  hop_seconds: float | None = None,
                  stats: DecodeStats | None = None) -> Iterator[Clip]:
    """Clips across a whole file, one every `hop_seconds` (default: half a clip).

    A clip is the frames with start <= t < start + clip_seconds, uniformly subsampled to
    num_frames. When the last window ends before the video does, one more clip aligned to the
    end covers the tail. A video shorter than one clip yields one clip made of all its frames
    (frames repeat to fill num_frames). Pass `stats` to get per-stage times and the duration."""
    stats = stats if stats is not None else DecodeStats()
    clip_s = contract.clip_seconds
    hop = hop_seconds if hop_seconds is not None else clip_s / 2
    if hop <= 0:
        raise ValueError("hop_seconds must be > 0")
    recent: collections.deque = collections.deque()  # (t, prepared frame) of the last clip_s
    next_start = 0.0
    emitted_end = None
    last_t = None
    for t, rgb in decode_frames(path, stats):
        while t >= next_start + clip_s - 1e-6:  # the window [next_start, +clip_s) is complete
            window = [(ft, f) for ft, f in recent if ft >= next_start - 1e-6]
            if window:
                yield _make_clip(next_start, next_start + clip_s, window, contract, stats)
                emitted_end = next_start + clip_s
            next_start += hop
        recent.append((t, _prepare(rgb, contract, stats)))
        while recent and recent[0][0] < min(next_start, t - clip_s) - 1e-6:
            recent.popleft()
        last_t = t
    if last_t is None:
        raise SourceError(f"{path}: no frame could be decoded (truncated or corrupt file?)")
    if emitted_end is None:  # shorter than one clip: everything we have
        yield _make_clip(0.0, clip_s, list(recent), contract, stats)
    elif emitted_end < last_t + 1e-6:  # tail not covered: one clip aligned to the end
        start = max(0.0, last_t - clip_s + 1e-6)
        window = [(ft, f) for ft, f in recent if ft >= start - 1e-6]
        yield _make_clip(start, start + clip_s, window, contract, stats)


def _make_clip(start: float, end: float, window: list, contract: Contract,
               stats: DecodeStats | None = None) -> Clip:
    stats = stats if stats is not None else DecodeStats()
    t0 = time.perf_counter()
    idx = subsample_indices(len(window), contract.num_frames)
    frames = np.stack([window[i][1] for i in idx])
    pixel_values = normalize(frames, contract)
    stats.preprocess_s += time.perf_counter() - t0
    decode_s, preprocess_s = stats.since_last_clip()
    return Clip(start, end, len(window), pixel_values, decode_s, preprocess_s,
                time.perf_counter(), window[-1][0])


def clips_at(path: str | os.PathLike, contract: Contract, starts: list[float],
             stats: DecodeStats | None = None) -> list[Clip]:
    """Clips at the given start times (e.g. `uniform_clip_starts`), in one decoding pass.

    Keeps prepared frames only for windows still open; frames outside every window are
    grabbed but not converted."""
    stats = stats if stats is not None else DecodeStats()
    clip_s = contract.clip_seconds
    windows = sorted(starts)

    def needed(t: float) -> list[int]:
        return [i for i, s in enumerate(windows) if s - 1e-6 <= t < s + clip_s - 1e-6]

    buffers: dict[int, list] = {i: [] for i in range(len(windows))}
    last = None
    for t, rgb in decode_frames(path, stats, want=lambda t: bool(needed(t))):
        last = (t, rgb)
        wanted = needed(t)
        if wanted:
            prepared = _prepare(rgb, contract, stats)
            for i in wanted:
                buffers[i].append((t, prepared))
        if t >= windows[-1] + clip_s:
            break
    if last is None:
        raise SourceError(f"{path}: no frame could be decoded (truncated or corrupt file?)")
    clips = []
    for i, s in enumerate(windows):
        window = buffers[i]
        if not window:  # a start past the end (reported duration lied): use the last frame
            if last[1] is None:  # it was skipped, not converted: fetch it (rare)
                last = collections.deque(iter_frames(path), maxlen=1)[0]
            window = [(last[0], _prepare(last[1], contract, stats))]
        clips.append(_make_clip(s, s + clip_s, window, contract, stats))
    return clips


def probe_duration(path: str | os.PathLike, stats: DecodeStats | None = None) -> float:
    """Duration in seconds by decoding to the end (frame counts in headers can lie); frames
    are grabbed, not converted."""
    stats = stats if stats is not None else DecodeStats()
    for _ in decode_frames(path, stats, want=lambda t: False):
        pass
    if stats.last_t is None:
        raise SourceError(f"{path}: no frame could be decoded (truncated or corrupt file?)")
    return stats.duration
