"""Live classification: a capture thread fills a ring buffer of (time, frame); the classifier
takes the latest window at each hop.

Frames the classifier has no time for are dropped, never queued: the ring buffer holds the
last few seconds and old frames fall off the end, so the lag from capture to label cannot
grow. A frame that falls off without ever being part of a classified window counts as dropped.

Sources: a camera index, an RTSP/HTTP URL, or a file replayed as if live (at its own fps, in
real time; frames the decoder is too late for are skipped and counted). Network sources that
stop delivering are reopened with exponential backoff a bounded number of times, then the
stream ends with a SourceError. Every blocking wait has a timeout, and a watchdog turns a read
that hangs past its timeout into a SourceError too.
"""

from __future__ import annotations

import collections
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import SourceError, UsageError
from .events import EventConfig, EventDetector
from .preprocess import normalize, prepare_frame, subsample_indices
from .results import LiveResult, Timings, top_k
from .smoothing import Smoother, SmoothingConfig
from .sources import Source, is_url
from .video import DEFAULT_FPS, decode_frames, open_file

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own chatter; we report


def _quiet_opencv() -> None:
    """OpenCV warns on stderr when a camera or URL will not open; we say it in one line."""
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # builds without the logging utilities
        return


@dataclass
class StreamConfig:
    hop_seconds: float | None = None  # source seconds between results; None = min(0.5, clip/2)
    top_k: int = 5  # labels per result
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)  # score smoothing
    events: EventConfig = field(default_factory=EventConfig)  # start/end hysteresis
    open_timeout_s: float = 10.0  # opening a camera or URL
    read_timeout_s: float = 5.0  # a source silent this long has lost its connection
    reconnect_attempts: int = 5  # reopen tries after a loss, then SourceError (0 = none)
    reconnect_backoff_s: float = 0.5  # first wait before reopening; doubles each try
    reconnect_backoff_max_s: float = 8.0  # cap on one wait
    buffer_seconds: float | None = None  # ring span; None = clip + 2 hops + 0.5 s
    speed: float = 1.0  # replay: 1.0 = the file's own fps in real time
    max_results: int | None = None  # stop after this many results (None = until the end)
    max_seconds: float | None = None  # stop after this much wall time (None = until the end)
    keep_frames: bool = False  # keep the newest frame on each result (for --show / --save)

    def __post_init__(self):
        if self.hop_seconds is not None and not self.hop_seconds > 0:
            raise UsageError(f"--hop must be > 0 seconds, got {self.hop_seconds}")
        for name in ("open_timeout_s", "read_timeout_s", "reconnect_backoff_s", "speed"):
            if not getattr(self, name) > 0:
                raise UsageError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.reconnect_attempts < 0:
            raise UsageError("reconnect_attempts must be >= 0")
        if self.top_k < 1:
            raise UsageError("top_k must be >= 1")


@dataclass
class Frame:
    seq: int  # 0, 1, 2... in capture order
    t: float  # source time, seconds (file timestamp on replay, wall clock since start live)
    captured: float  # time.perf_counter() when the frame was (virtually) captured
    bgr: np.ndarray  # the frame as decoded
    decode_s: float  # time spent decoding it
    used: bool = False  # part of a classified window
    prepared: np.ndarray | None = None  # prepare_frame() output, cached across windows


class RingBuffer:
    """The newest frames, by count; a condition variable signals new frames and the end."""

    def __init__(self, capacity: int):
        self.capacity = max(2, int(capacity))
        self.frames: collections.deque[Frame] = collections.deque()
        self.cond = threading.Condition()
        self.evicted_unused = 0  # frames that fell off without being classified
        self.pushed = 0

    def push(self, frame: Frame) -> None:
        with self.cond:
            self.frames.append(frame)
            self.pushed += 1
            while len(self.frames) > self.capacity:
                old = self.frames.popleft()
                if not old.used:
                    self.evicted_unused += 1
            self.cond.notify_all()

    def newest(self) -> Frame | None:
        with self.cond:
            return self.frames[-1] if self.frames else None

    def window(self, start: float, end: float) -> list[Frame]:
        with self.cond:
            return [f for f in self.frames if start - 1e-9 <= f.t <= end + 1e-9]

    def since(self, seq: int) -> list[Frame]:
        with self.cond:
            return [f for f in self.frames if f.seq > seq]


class Capture:
    """Base capture thread: subclasses implement `_run()` and push frames into `ring`."""

    def __init__(self, source: Source, config: StreamConfig, clip_seconds: float, fps: float):
        self.source, self.config = source, config
        hop = config.hop_seconds or min(0.5, clip_seconds / 2)
        span = config.buffer_seconds or clip_seconds + 2 * hop + 0.5
        self.fps = fps
        self.ring = RingBuffer(math.ceil(span * max(fps, 1.0)) + 2)
        self.error: BaseException | None = None  # set when the source failed for good
        self.ended = False  # the source has no more frames (end of file, or failed)
        self.captured = 0  # frames the source produced, skipped ones included
        self.skipped = 0  # frames skipped at capture (replay decoder behind real time)
        self.reconnects = 0  # successful reopenings
        self.notices: collections.deque[dict] = collections.deque()  # status for the JSONL
        self.activity = time.perf_counter()  # last frame or reconnect attempt (watchdog)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"capture {source}",
                                        daemon=True)
        self.t0 = 0.0

    def start(self) -> Capture:
        self.t0 = time.perf_counter()
        self.activity = self.t0
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self.ring.cond:
            self.ring.cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def dropped(self) -> int:
        return self.ring.evicted_unused + self.skipped

    def _main(self) -> None:
        try:
            self._run()
        except SourceError as e:
            self.error = e
        except Exception as e:  # noqa: BLE001 - handed to the consumer thread, re-raised there
            self.error = SourceError(f"{self.source}: capture failed: {type(e).__name__}: {e}")
        finally:
            with self.ring.cond:
                self.ended = True
                self.ring.cond.notify_all()

    def _push(self, t: float, captured: float, bgr: np.ndarray, decode_s: float) -> None:
        self.activity = time.perf_counter()
        self.ring.push(Frame(self.ring.pushed, t, captured, bgr, decode_s))

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; False when stopped."""
        return not self._stop.wait(max(0.0, seconds))


class ReplayCapture(Capture):
    """A file played as if it were a camera: frame at time t appears at start + t / speed."""

    def __init__(self, source: Source, config: StreamConfig, clip_seconds: float):
        cap, fps = open_file(source.value)  # fail now (exit 2) on a missing or bad file
        cap.release()
        super().__init__(source, config, clip_seconds, fps)

    def _run(self) -> None:
        late = 1.0 / self.fps  # later than one frame: skip it, like a camera would
        speed = self.config.speed
        pending: dict = {}

        def want(t: float) -> bool:
            due = self.t0 + t / speed
            now = time.perf_counter()
            self.captured += 1
            if self._stop.is_set():
                raise _Stopped
            if now > due + late:
                self.skipped += 1
                return False
            if not self._sleep(due - now):
                raise _Stopped
            pending["due"] = due
            pending["t0"] = time.perf_counter()
            return True

        try:
            for t, rgb in decode_frames(self.source.value, want=want):
                if rgb is None:
                    continue
                bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                self._push(t, pending["due"], bgr, time.perf_counter() - pending["t0"])
        except _Stopped:
            return
        if self.captured == 0:
            raise SourceError(f"{self.source}: no frame could be decoded (truncated or corrupt "
                              "file?)")


class _Stopped(Exception):
    pass


class DeviceCapture(Capture):
    """A camera index or a network URL, read as fast as it delivers; lost -> reopened."""

    def __init__(self, source: Source, config: StreamConfig, clip_seconds: float):
        self.source, self.config = source, config  # _open needs them before Capture.__init__
        self.cap = self._open()
        if self.cap is None:
            raise SourceError(self._open_failed())
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and np.isfinite(fps) and 1 <= fps <= 240 else DEFAULT_FPS
        # reported fps is often wrong for streams: size the ring for at least 30 fps
        super().__init__(source, config, clip_seconds, max(fps, DEFAULT_FPS))

    def _open(self):
        _quiet_opencv()
        ms_open = int(self.config.open_timeout_s * 1000)
        ms_read = int(self.config.read_timeout_s * 1000)
        if self.source.kind == "camera":
            cap = cv2.VideoCapture(int(self.source.value))
        else:
            cap = cv2.VideoCapture(self.source.value, cv2.CAP_FFMPEG,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms_open,
                                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms_read])
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def _open_failed(self) -> str:
        if self.source.kind == "camera":
            return (f"camera {self.source.value} cannot be opened: no such camera, or another "
                    "program is using it (list cameras with `v4l2-ctl --list-devices`)")
        return (f"{self.source.value} cannot be opened within {self.config.open_timeout_s:g} s: "
                "check the URL, that the server is up, and credentials if it needs them")

    def _run(self) -> None:
        cap = self.cap
        try:
            while not self._stop.is_set():
                t_read = time.perf_counter()
                ok, bgr = cap.read() if cap is not None else (False, None)
                now = time.perf_counter()
                if ok and bgr is not None:
                    self.captured += 1
                    self._push(now - self.t0, now, bgr, now - t_read)
                    continue
                if cap is not None:
                    cap.release()
                cap = self.cap = self._reconnect()
        finally:
            if cap is not None:
                cap.release()

    def _reconnect(self):
        """Reopen with backoff; SourceError after `reconnect_attempts` failures."""
        cfg = self.config
        lost_at = time.perf_counter()
        wait = cfg.reconnect_backoff_s
        for attempt in range(1, cfg.reconnect_attempts + 1):
            self.notices.append({"type": "reconnect", "source": str(self.source),
                                 "attempt": attempt, "of": cfg.reconnect_attempts,
                                 "wait_s": round(wait, 3)})
            self.activity = time.perf_counter()
            if not self._sleep(wait):
                return None
            self.activity = time.perf_counter()
            cap = self._open()
            if cap is not None:
                self.reconnects += 1
                self.notices.append({"type": "reconnected", "source": str(self.source),
                                     "attempt": attempt})
                return cap
            wait = min(wait * 2, cfg.reconnect_backoff_max_s)
        raise SourceError(
            f"{self.source}: connection lost; {cfg.reconnect_attempts} reconnect attempts failed "
            f"over {time.perf_counter() - lost_at:.1f} s; check that the camera or server is up "
            "(raise --reconnects to keep trying longer)")


def open_source(source, config: StreamConfig, *, live: bool = False,
                clip_seconds: float = 2.0) -> Capture:
    """A capture (not started) for a camera index, URL, or (live=True) a file replay."""
    if not isinstance(source, Source):
        text = str(source)
        kind = "camera" if text.isdigit() else "url" if is_url(text) else "file"
        source = Source(kind, text, text)
    if source.kind == "file":
        if not live:
            raise UsageError(f"{source}: a file is classified with classify_file(); pass "
                             "live=True (--live) to replay it as a live source")
        return ReplayCapture(source, config, clip_seconds)
    return DeviceCapture(source, config, clip_seconds)


class StreamRun:
    """Iterate to get LiveResults; `summary()` afterwards (or at any time) for the totals."""

    def __init__(self, classifier, capture: Capture, config: StreamConfig,
                 on_notice: Callable[[dict], None] | None = None):
        self.clf, self.capture, self.config = classifier, capture, config
        contract = classifier.contract
        self.clip_s = contract.clip_seconds
        self.hop = config.hop_seconds or min(0.5, self.clip_s / 2)
        self.smoother = Smoother(config.smoothing)
        self.events = EventDetector(contract.labels, config.events)
        self.on_notice = on_notice
        self.lags_ms: list[float] = []  # capture of the newest frame -> label, per result
        self.results = 0
        self.hops_skipped = 0
        self.last: LiveResult | None = None
        self._wall0 = 0.0

    # -- the loop --------------------------------------------------------------------------
    def __iter__(self):
        cap = self.capture
        cap.start()
        self._wall0 = time.perf_counter()
        last_end: float | None = None
        last_seq = -1
        try:
            while True:
                newest = self._wait_for_window(last_end)
                if newest is None:
                    break
                result = self._classify(newest, last_end, last_seq)
                last_end, last_seq = newest.t, newest.seq
                yield result
                if self.config.max_results and self.results >= self.config.max_results:
                    break
                if (self.config.max_seconds
                        and time.perf_counter() - self._wall0 >= self.config.max_seconds):
                    break
            if self.last is not None:
                for event in self.events.finish(self.last.end):
                    self._notice(event)
        finally:
            cap.stop()

    def _wait_for_window(self, last_end: float | None) -> Frame | None:
        """The newest frame once a window is due; None at the end of the source."""
        cap, ring = self.capture, self.capture.ring
        # a read that blocks longer than its own timeout, plus an open, is a hang
        watchdog = self.config.read_timeout_s + self.config.open_timeout_s + 2.0
        with ring.cond:
            while True:
                self._drain_notices()
                if cap.error is not None:
                    raise cap.error
                newest = ring.frames[-1] if ring.frames else None
                if newest is not None:
                    if last_end is None:
                        span = newest.t - ring.frames[0].t + 1.0 / cap.fps
                        if span >= self.clip_s - 1e-6 or cap.ended:
                            return newest
                    elif newest.t >= last_end + self.hop - 1e-6:
                        return newest
                    elif cap.ended and newest.t > last_end + 1e-6:
                        return newest  # the tail after the last hop
                if cap.ended:
                    return None
                if time.perf_counter() - cap.activity > watchdog:
                    raise SourceError(f"{cap.source}: no frame for {watchdog:.0f} s and the read "
                                      "did not time out; the source hung: check it")
                ring.cond.wait(timeout=0.1)

    def _classify(self, newest: Frame, last_end: float | None, last_seq: int) -> LiveResult:
        contract = self.clf.contract
        window = self.capture.ring.window(newest.t - self.clip_s + 1e-6, newest.t)
        decode_s = sum(f.decode_s for f in self.capture.ring.since(last_seq))
        t0 = time.perf_counter()
        idx = subsample_indices(len(window), contract.num_frames)
        prepared = []
        for i in idx:
            f = window[i]
            if f.prepared is None:
                f.prepared = prepare_frame(cv2.cvtColor(f.bgr, cv2.COLOR_BGR2RGB), contract)
            prepared.append(f.prepared)
        x = normalize(np.stack(prepared), contract)
        t1 = time.perf_counter()
        probs = self.clf.predict(x)[0]
        t2 = time.perf_counter()
        for f in window:
            f.used = True
        if last_end is not None:
            self.hops_skipped += max(0, int((newest.t - last_end) / self.hop + 1e-6) - 1)
        smoothed = self.smoother.update(probs)
        events = self.events.update(smoothed, newest.t)
        lag_ms = (t2 - newest.captured) * 1000
        self.lags_ms.append(lag_ms)
        self.results += 1
        k = self.config.top_k
        elapsed = max(t2 - self.capture.t0, 1e-6)
        result = LiveResult(
            window[0].t, newest.t, len(window), probs, top_k(probs, contract.labels, k),
            Timings(decode_s * 1000, (t1 - t0) * 1000, (t2 - t1) * 1000), lag_ms,
            source=str(self.capture.source), wall_time=time.time(),
            smoothed=top_k(smoothed, contract.labels, k), events=events,
            fps=self.capture.ring.pushed / elapsed,
            frames_captured=self.capture.captured, frames_dropped=self.capture.dropped,
            hops_skipped=self.hops_skipped)
        if self.config.keep_frames:
            result.frame = newest.bgr
            result.frame_seq = newest.seq
        self.last = result
        return result

    def _notice(self, notice: dict) -> None:
        if self.on_notice is not None:
            self.on_notice(notice)

    def _drain_notices(self) -> None:
        while self.capture.notices:
            self._notice(self.capture.notices.popleft())

    # -- totals ----------------------------------------------------------------------------
    def summary(self) -> dict:
        """Frames captured and dropped, results, hops skipped, lag max / p95 / p50 (ms)."""
        cap = self.capture
        unused_old = 0
        if self.last is not None:  # frames still buffered, older than the last window
            unused_old = sum(1 for f in cap.ring.since(-1)
                             if not f.used and f.t < self.last.start)
        lags = np.asarray(self.lags_ms) if self.lags_ms else np.zeros(1)
        wall = time.perf_counter() - self._wall0 if self._wall0 else 0.0
        return {"type": "summary", "source": str(cap.source), "results": self.results,
                "frames_captured": cap.captured, "frames_dropped": cap.dropped + unused_old,
                "frames_skipped_at_capture": cap.skipped, "hops_skipped": self.hops_skipped,
                "reconnects": cap.reconnects, "hop_s": round(self.hop, 4),
                "lag_ms": {"p50": round(float(np.percentile(lags, 50)), 3),
                           "p95": round(float(np.percentile(lags, 95)), 3),
                           "max": round(float(lags.max()), 3)},
                "wall_s": round(wall, 3)}


def classify_stream(classifier, capture: Capture, config: StreamConfig,
                    on_notice: Callable[[dict], None] | None = None) -> StreamRun:
    return StreamRun(classifier, capture, config, on_notice)
