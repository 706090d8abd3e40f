"""The train/runtime contract rests on this: the training decoder (PyTorchVideo's PyAV path)
and the runtime decoder (OpenCV) give the same frames at the same timestamps, for the codecs
and pixel formats users have (XVID AVI, MPEG-4 Part 2 MP4, H.264 yuv420p and yuv444p, MJPEG)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("pytorchvideo")

FPS, N, W, H = 25, 30, 96, 64


def frames() -> np.ndarray:
    """RGB frames with gradients, colour and a moving square: every codec has work to do."""
    y, x = np.mgrid[0:H, 0:W]
    out = np.empty((N, H, W, 3), np.uint8)
    for i in range(N):
        out[i, ..., 0] = (x * 255 // W + 3 * i) % 256
        out[i, ..., 1] = y * 255 // H
        out[i, ..., 2] = 80
        out[i, 20:40, 5 + 2 * i:25 + 2 * i] = (250, 240, 30)
    return out


def write_opencv(path, fourcc: str) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (W, H))
    assert writer.isOpened(), fourcc
    for f in frames():
        writer.write(f[:, :, ::-1].copy())
    writer.release()


def write_pyav(path, codec: str, pix_fmt: str) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, pix_fmt
        for f in frames():
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


CASES = {
    "xvid.avi": lambda p: write_opencv(p, "XVID"),
    "mp4v.mp4": lambda p: write_opencv(p, "mp4v"),
    "mjpg.avi": lambda p: write_opencv(p, "MJPG"),
    "h264-yuv420p.mp4": lambda p: write_pyav(p, "libx264", "yuv420p"),
    "h264-yuv444p.mkv": lambda p: write_pyav(p, "libx264", "yuv444p"),
}


def training_decoder(path):
    """Frames as PyTorchVideo's PyAV decoder gives them to training, and their times."""
    import av
    from pytorchvideo.data.encoded_video_pyav import EncodedVideoPyAV

    with open(path, "rb") as f:
        video = EncodedVideoPyAV(f, video_name=path.name, decode_audio=False)
        # the whole video (the end is exclusive: one second past it)
        clip = video.get_clip(0, float(video.duration) + 1.0)["video"]  # (C, T, H, W) float
        video.close()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(fr.pts * stream.time_base) for fr in container.decode(video=0)]
    return clip.permute(1, 2, 3, 0).numpy().round().astype(np.uint8), np.array(times)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pyav_and_opencv_decode_the_same_frames_at_the_same_times(name, tmp_path):
    from videoedge.runtime.video import iter_frames

    path = tmp_path / name
    CASES[name](path)
    train_frames, train_times = training_decoder(path)
    decoded = list(iter_frames(path))
    run_times = np.array([t for t, _ in decoded])
    run_frames = np.stack([f for _, f in decoded])
    assert len(run_frames) == len(train_frames) == N, (len(run_frames), len(train_frames))
    assert np.abs(run_times - train_times).max() < 1e-6
    diff = np.abs(run_frames.astype(int) - train_frames.astype(int)).max()
    assert diff == 0, f"{name}: max abs pixel difference {diff}"
