"""The contract's evaluation transform, as pure numpy functions.

This is the one definition of eval preprocessing: the training stage's validation transform,
the export parity check and the runtime all call these functions, and tests compare them
against a torch reimplementation. Frames are RGB, (T, H, W, 3), uint8 or float in 0..255.

Temporal sampling is by timestamp: a clip is the frames whose times fall in
[start, start + contract.clip_seconds), uniformly subsampled to contract.num_frames.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .contract import Contract


# -- temporal ---------------------------------------------------------------------------
def subsample_indices(available: int, num_frames: int) -> np.ndarray:
    """Indices of `num_frames` frames spread uniformly over `available` frames.

    round-down of linspace(0, available - 1, num_frames), in exact integer arithmetic (the
    PyTorchVideo `UniformTemporalSubsample` rule without its float rounding, which gives the
    same indices on every case tested). Fewer frames than asked for repeat frames: a 3-frame
    clip becomes 0,0,0,0,1,1,1,2 for 8, as PyTorchVideo's does."""
    if available < 1:
        raise ValueError("cannot sample a clip from zero frames")
    if num_frames == 1:
        return np.zeros(1, dtype=np.int64)
    i = np.arange(num_frames, dtype=np.int64)
    return (i * (available - 1)) // (num_frames - 1)


def frames_in_window(timestamps: np.ndarray, start: float, end: float) -> np.ndarray:
    """Indices of the frames whose time t satisfies start <= t < end."""
    timestamps = np.asarray(timestamps, dtype=np.float64)
    return np.flatnonzero((timestamps >= start - 1e-9) & (timestamps < end - 1e-9))


def uniform_clip_starts(duration: float, clip_seconds: float, num_clips: int) -> list[float]:
    """Start times of `num_clips` clips spread evenly over a video (the multi-view protocol;
    PyTorchVideo's `constant_clips_per_video` sampler). A video shorter than one clip gives
    start 0 for every clip."""
    last_start = max(duration - clip_seconds, 0.0)
    step = last_start / max(num_clips - 1, 1)
    return [step * k for k in range(num_clips)] if num_clips > 1 else [last_start / 2]


def sliding_clip_starts(duration: float, clip_seconds: float, hop_seconds: float) -> list[float]:
    """Start times of clips across a whole video, every `hop_seconds`; the last clip is
    aligned to the end so the tail is covered. A video shorter than one clip gives [0.0]."""
    if hop_seconds <= 0:
        raise ValueError("hop_seconds must be > 0")
    last_start = duration - clip_seconds
    if last_start <= 1e-9:
        return [0.0]
    starts = list(np.arange(0.0, last_start + 1e-9, hop_seconds))
    if last_start - starts[-1] > 1e-6:
        starts.append(last_start)
    return [float(s) for s in starts]


# -- spatial ----------------------------------------------------------------------------
def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(new_h, new_w) with the short side = size, the long side floored (PyTorchVideo's
    `short_side_scale` rule)."""
    if width < height:
        return int(math.floor(height / width * size)), size
    return size, int(math.floor(width / height * size))


def resize_short_side(frame: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of one (H, W, C) frame, half-pixel centres, no antialiasing
    (cv2.INTER_LINEAR == torch.nn.functional.interpolate(align_corners=False))."""
    h, w = frame.shape[:2]
    new_h, new_w = short_side_size(h, w, size)
    if (new_h, new_w) == (h, w):
        return frame
    return cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)


def center_crop(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if h < height or w < width:
        raise ValueError(f"frame {h}x{w} is smaller than the crop {height}x{width}")
    top, left = (h - height) // 2, (w - width) // 2
    return frame[top : top + height, left : left + width]


def prepare_frame(frame: np.ndarray, contract: Contract) -> np.ndarray:
    """One RGB frame (H, W, 3) -> float32 (height, width, 3) in 0..1, resized and cropped.

    Frames are scaled to float before resizing so the resize does not round to uint8."""
    if frame.ndim == 2:  # grayscale -> RGB
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB frame (H, W, 3), got shape {frame.shape}")
    x = frame.astype(np.float32) * np.float32(contract.scale)
    x = resize_short_side(x, contract.resize_short_side)
    return center_crop(x, contract.height, contract.width)


def normalize(frames: np.ndarray, contract: Contract) -> np.ndarray:
    """(T, H, W, 3) float in 0..1 -> (T, 3, H, W) float32, mean/std normalised."""
    mean = np.asarray(contract.mean, dtype=np.float32)
    std = np.asarray(contract.std, dtype=np.float32)
    x = (np.asarray(frames, dtype=np.float32) - mean) / std
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def preprocess_clip(frames, contract: Contract, *, subsample: bool = True) -> np.ndarray:
    """The eval transform: the frames of one clip window -> (num_frames, 3, H, W) float32.

    `frames` is a sequence or array of RGB frames (H, W, 3) in time order, all the frames
    whose timestamps fell in the window. With `subsample=False` the frames are already the
    contract's num_frames (the runtime picks them before decoding work is spent on them)."""
    n = len(frames)
    if n == 0:
        raise ValueError("cannot preprocess an empty clip")
    idx = subsample_indices(n, contract.num_frames) if subsample else range(n)
    prepared = {}
    out = []
    for i in idx:
        if i not in prepared:  # repeated indices (short clips) are prepared once
            prepared[i] = prepare_frame(np.asarray(frames[i]), contract)
        out.append(prepared[i])
    return normalize(np.stack(out), contract)


def unnormalize(clip: np.ndarray, contract: Contract) -> np.ndarray:
    """(T, 3, H, W) normalised -> (T, H, W, 3) uint8, for previews and GIFs."""
    mean = np.asarray(contract.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(contract.std, dtype=np.float32)[:, None, None]
    x = (clip * std + mean) / np.float32(contract.scale)
    return np.clip(x, 0, 255).round().astype(np.uint8).transpose(0, 2, 3, 1)


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)
