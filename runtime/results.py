"""What the classifier returns: per-clip results, file results, live results.

Every result carries per-stage timings (decode, preprocess, infer, in ms) and the latency
from capture (the moment its newest frame was decoded, or shown by a live source) to label.
`to_dict()` gives the JSON-ready form written to JSONL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Timings:
    decode_ms: float = 0.0  # decoding the frames this result used (since the previous one)
    preprocess_ms: float = 0.0  # resize, crop, normalise
    infer_ms: float = 0.0  # ONNX Runtime (the batch's time divided among its clips)

    @property
    def total_ms(self) -> float:
        return self.decode_ms + self.preprocess_ms + self.infer_ms

    def __add__(self, other: Timings) -> Timings:
        return Timings(self.decode_ms + other.decode_ms,
                       self.preprocess_ms + other.preprocess_ms, self.infer_ms + other.infer_ms)

    def to_dict(self) -> dict:
        return {"decode_ms": round(self.decode_ms, 3), "preprocess_ms": round(self.preprocess_ms, 3),
                "infer_ms": round(self.infer_ms, 3), "total_ms": round(self.total_ms, 3)}


def top_k(probs: np.ndarray, labels: list[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-np.asarray(probs), kind="stable")[: max(1, min(k, len(labels)))]
    return [(labels[i], float(probs[i])) for i in order]


def _top_json(top: list[tuple[str, float]]) -> list[dict]:
    return [{"label": label, "score": round(score, 6)} for label, score in top]


class _Ranked:
    """label and score of a result's top-k list (`top`, best first)."""

    top: list[tuple[str, float]]

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def score(self) -> float:
        return self.top[0][1]


@dataclass
class ClipResult(_Ranked):
    start: float  # window start, seconds of source time
    end: float  # window end, seconds
    frames: int  # frames that fell in the window (before subsampling to num_frames)
    probs: np.ndarray  # softmax over labels, float64 (num_labels,)
    top: list[tuple[str, float]]  # top-k (label, probability), best first
    timings: Timings
    latency_ms: float  # capture of the window's newest frame -> this label

    def to_dict(self) -> dict:
        return {"start": round(self.start, 4), "end": round(self.end, 4), "frames": self.frames,
                "label": self.label, "score": round(self.score, 6), "top": _top_json(self.top),
                "timings": self.timings.to_dict(), "latency_ms": round(self.latency_ms, 3)}


@dataclass
class FileResult(_Ranked):
    source: str  # the file
    duration: float  # seconds decoded (last timestamp + one frame)
    fps: float  # the file's frame rate (30 when it reports none)
    frames: int  # frames decoded
    sampling: str  # "hop 1.07 s" or "3 uniform clips"
    clips: list[ClipResult]  # the timeline, in time order
    probs: np.ndarray  # file-level: the mean of the clips' probabilities
    top: list[tuple[str, float]]  # file-level top-k
    timings: Timings  # sums over the file
    wall_ms: float  # wall time to classify the file
    note: str = ""  # e.g. how a video shorter than one clip was classified

    def to_dict(self, *, timeline: bool = True) -> dict:
        d = {"type": "file", "source": self.source, "label": self.label,
             "score": round(self.score, 6), "top": _top_json(self.top),
             "duration": round(self.duration, 4), "fps": round(self.fps, 3),
             "frames": self.frames, "sampling": self.sampling, "num_clips": len(self.clips),
             "timings": self.timings.to_dict(), "wall_ms": round(self.wall_ms, 3)}
        if self.note:
            d["note"] = self.note
        if timeline:
            d["clips"] = [c.to_dict() for c in self.clips]
        return d


@dataclass
class LiveResult(ClipResult):
    source: str = ""  # camera index, URL or replayed file
    wall_time: float = 0.0  # time.time() when the label was produced
    smoothed: list[tuple[str, float]] = field(default_factory=list)  # top-k after smoothing
    events: list[dict] = field(default_factory=list)  # label start/end events at this result
    fps: float = 0.0  # frames captured per second over the last seconds
    frames_captured: int = 0  # so far
    frames_dropped: int = 0  # so far: captured, never part of a classified window
    hops_skipped: int = 0  # so far: hops that passed while inference was busy
    frame: object = field(default=None, repr=False)  # newest BGR frame (keep_frames only)
    frame_seq: int = -1  # its capture sequence number

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.update({"type": "clip", "source": self.source, "time": round(self.wall_time, 3),
                  "smoothed": _top_json(self.smoothed), "fps": round(self.fps, 2),
                  "frames_captured": self.frames_captured,
                  "frames_dropped": self.frames_dropped, "hops_skipped": self.hops_skipped})
        return d
