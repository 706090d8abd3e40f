"""The messy-input corpus the reliability tests make for themselves (issue 8).

Every case is a function `name(dir) -> Path` writing one input into `dir`. `GOOD` cases must
be classified; `BAD` cases must give one clear error and never a crash or a hang.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def _frames(n, w, h, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    for i in range(n):
        f = base.copy()
        y = int((h - 1) * i / max(n - 1, 1))
        f[max(0, y - 2): y + 2] = 255
        yield f


def write_cv(path: Path, n: int, w: int, h: int, fps: float = 30.0, fourcc="MJPG",
             gray=False) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h),
                             not gray)
    assert writer.isOpened(), f"cannot write {path}"
    for f in _frames(n, w, h):
        writer.write(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) if gray else f)
    writer.release()
    return path


def write_av(path: Path, frames, pts_ms, codec="mpeg4", rotate: int | None = None,
             pix_fmt="yuv420p") -> Path:
    """PyAV writer with explicit timestamps (variable frame rate) and optional rotation."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=30)
        first = next(iter(frames))
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = pix_fmt
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotate is not None:
            stream.metadata["rotate"] = str(rotate)
        for frame, pts in zip(frames, pts_ms):
            vf = av.VideoFrame.from_ndarray(frame[:, :, ::-1].copy(), format="rgb24")
            vf.pts = int(pts)
            vf.time_base = Fraction(1, 1000)
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# -- inputs that must be classified ------------------------------------------------------
def one_frame(d):
    return write_cv(d / "one_frame.avi", 1, 64, 48)


def shorter_than_a_clip(d):
    return write_cv(d / "short.avi", 5, 64, 48)


def one_by_one_pixels(d):
    frames = list(_frames(40, 1, 1))
    return write_av(d / "tiny_1x1.mkv", frames, [i * 33.3 for i in range(40)], codec="ffv1",
                    pix_fmt="yuv444p")


def four_k(d):
    return write_cv(d / "uhd_4k.avi", 6, 3840, 2160)


def grayscale(d):
    return write_cv(d / "gray.avi", 40, 64, 48, gray=True)


def portrait(d):
    """A phone held upright: taller than wide. (The writers here cannot set rotation
    metadata: FFmpeg 7 dropped the `rotate` tag PyAV used to write.)"""
    frames = list(_frames(40, 48, 96))
    return write_av(d / "portrait.mp4", frames, [i * 33.3 for i in range(40)])


def variable_frame_rate(d):
    frames = list(_frames(60, 64, 48))
    gaps = np.random.default_rng(1).choice([20, 33, 50, 100], size=60)
    return write_av(d / "vfr.mkv", frames, np.cumsum(gaps) - gaps[0])


def spaces_and_unicode_name(d):
    return write_cv(d / "vidéo d'été 夏.avi", 40, 64, 48)


def truncated_in_the_middle(d):
    full = write_cv(d / "full_for_cut.avi", 90, 64, 48)
    data = full.read_bytes()
    cut = d / "cut_in_middle.avi"
    cut.write_bytes(data[: len(data) // 2])
    full.unlink()
    return cut


GOOD = [one_frame, shorter_than_a_clip, one_by_one_pixels, four_k, grayscale,
        portrait, variable_frame_rate, spaces_and_unicode_name, truncated_in_the_middle]


# -- inputs that must fail with one clear line -------------------------------------------
def zero_bytes(d):
    p = d / "empty.mp4"
    p.write_bytes(b"")
    return p


def text_named_mp4(d):
    p = d / "notes.mp4"
    p.write_text("this is not a video\n" * 50)
    return p


def header_only(d):
    full = write_cv(d / "full_for_header.avi", 30, 64, 48)
    p = d / "header_only.avi"
    p.write_bytes(full.read_bytes()[:600])
    full.unlink()
    return p


BAD = [zero_bytes, text_named_mp4, header_only]
