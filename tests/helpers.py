"""Small things the tests make for themselves: videos, datasets, model directories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np


def write_video(path, frames: int = 20, fps: float = 30.0, size=(64, 48), fourcc: str = "MJPG",
                color_step: int = 10) -> Path:
    """A video whose frame i is a flat colour that encodes i (so decoding order is checkable)."""
    path = Path(path)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"cannot write {fourcc} to {path}"
    for i in range(frames):
        frame = np.full((h, w, 3), (i * color_step) % 256, np.uint8)
        cv2.rectangle(frame, (i % w, 0), (i % w + 4, 8), (0, 0, 255), -1)
        writer.write(frame)
    writer.release()
    return path


def run_cli(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    """Run `videoedge ARGS` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "videoedge.runtime.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)
