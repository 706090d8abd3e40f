"""Small pure parts of the runtime: smoothing, events, sources, JSONL."""

from __future__ import annotations

import json

import numpy as np
import pytest

from videoedge.runtime import UsageError
from videoedge.runtime.events import EventConfig, EventDetector
from videoedge.runtime.jsonl import JsonlWriter
from videoedge.runtime.smoothing import Smoother, SmoothingConfig
from videoedge.runtime.sources import resolve


def test_ema_and_moving_average():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    ema = Smoother(SmoothingConfig("ema", alpha=0.25))
    ema.update(a)
    np.testing.assert_allclose(ema.update(b), [0.75, 0.25])
    mean = Smoother(SmoothingConfig.parse("mean:2"))
    mean.update(a), mean.update(b)
    np.testing.assert_allclose(mean.update(b), [0.0, 1.0])  # only the last 2
    np.testing.assert_allclose(Smoother(SmoothingConfig.parse("none")).update(b), b)
    with pytest.raises(UsageError):
        SmoothingConfig.parse("median")


def test_events_have_hysteresis_and_need_consecutive_results():
    det = EventDetector(["walk", "run"], EventConfig(on=0.6, off=0.4, min_results=2))
    p = lambda walk: np.array([walk, 1 - walk])
    assert det.update(p(0.7), 0.0) == []  # one result above `on` is not enough
    start = det.update(p(0.7), 0.5)
    assert [(e["event"], e["label"]) for e in start] == [("start", "walk")]
    # hovering between off and on: no flicker
    assert all(det.update(p(x), t) == [] for t, x in enumerate([0.55, 0.45, 0.59, 0.41], 1))
    end = det.update(p(0.35), 9.0)  # walk below off: ends; run at 0.65 needs two results
    assert [(e["event"], e["label"]) for e in end] == [("end", "walk")]
    assert end[0]["duration"] == pytest.approx(8.5)
    assert [e["event"] for e in det.update(p(0.3), 9.5)] == ["start"]
    assert [e["event"] for e in det.finish(10.0)] == ["end"]


def test_sources_resolve_files_folders_globs_cameras_and_urls(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.mp4", "a.AVI", "sub/c.mkv", "readme.txt"):
        (tmp_path / name).write_bytes(b"x")
    got = resolve([str(tmp_path), str(tmp_path / "*.mp4"), "0", "rtsp://cam/stream",
                   str(tmp_path / "readme.txt")])
    assert [(s.kind, s.value.rsplit("/", 1)[-1] if s.kind == "file" else s.value)
            for s in got] == [
        ("file", "a.AVI"), ("file", "b.mp4"), ("file", "c.mkv"), ("file", "b.mp4"),
        ("camera", "0"), ("url", "rtsp://cam/stream"), ("file", "readme.txt")]
    for bad in (str(tmp_path / "missing.mp4"), "ftp://host/x", str(tmp_path / "*.mov")):
        with pytest.raises(UsageError):
            resolve([bad])


def test_jsonl_is_never_half_written(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"old": true}\n')
    with pytest.raises(KeyboardInterrupt), JsonlWriter(out) as w:
        w.write({"a": 1, "x": np.float32(0.5)})
        assert json.loads(out.read_text()) == {"old": True}  # the old file until close
        w.write({"b": 2})
        raise KeyboardInterrupt  # Ctrl-C: what was written is kept, whole lines only
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"a": 1, "x": 0.5}, {"b": 2}]
    assert not list(tmp_path.glob(".*"))
    live = tmp_path / "live.jsonl"
    w = JsonlWriter(live, atomic=False)
    w.write({"t": 1})
    assert live.read_text() == '{"t": 1}\n'  # visible at once, a complete line
    w.close()


def test_overlay_draws_top_k_fps_and_latency_and_saves_atomically(tmp_path):
    import cv2

    from videoedge.runtime.overlay import VideoSaver, draw

    frame = np.full((120, 160, 3), 128, np.uint8)
    out = draw(frame, [("walk", 0.9), ("run", 0.1)], fps=29.97, latency_ms=42)
    assert out.shape == frame.shape and (out != frame).any() and (frame == 128).all()
    assert (out[100:, :] == 128).all()  # the box stays in the top-left corner
    saver = VideoSaver(tmp_path / "a.avi", 30)
    for _ in range(3):
        saver.write(out)
    assert not (tmp_path / "a.avi").exists()  # appears only when complete
    assert saver.close() == tmp_path / "a.avi"
    cap = cv2.VideoCapture(str(tmp_path / "a.avi"))
    assert cap.read()[0] and list(tmp_path.iterdir()) == [tmp_path / "a.avi"]
    with pytest.raises(UsageError, match="use one of"):
        VideoSaver(tmp_path / "a.gif", 30)
