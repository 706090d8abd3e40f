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


def reference_clip(path, contract):
    """The single-view clip of a video, made without any videoedge code: PyAV decodes, the
    centred window of the contract's length is cut by timestamps, PyTorchVideo subsamples and
    the guide's chain (/255, normalise, short side, centre crop) prepares it. (T, C, H, W)."""
    import av
    import numpy as np
    import torch
    from torchvision.transforms import CenterCrop

    from videoedge.train.data import pytorchvideo_transforms

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [(float(f.pts * stream.time_base), f.to_ndarray(format="rgb24"))
                   for f in container.decode(video=0)]
        duration = float(stream.duration * stream.time_base)
    clip_s = contract.num_frames * contract.frame_stride / contract.reference_fps
    start = max(0.0, (duration - clip_s) / 2)
    frames = np.stack([f for t, f in decoded if start - 1e-9 <= t < start + clip_s - 1e-9])
    T = pytorchvideo_transforms()
    x = torch.from_numpy(frames).permute(3, 0, 1, 2).float()  # (C, T, H, W)
    x = T.UniformTemporalSubsample(contract.num_frames)(x) / 255.0
    x = T.Normalize(contract.mean, contract.std)(x)
    x = T.ShortSideScale(contract.resize_short_side)(x)
    x = CenterCrop((contract.height, contract.width))(x)
    return x.permute(1, 0, 2, 3).numpy()
