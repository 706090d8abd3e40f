"""`Classifier`: a bundle on a device, classifying files and live sources.

    from videoedge.runtime import Classifier
    clf = Classifier("bundle/")                      # device="auto", precision="auto"
    result = clf.classify_file("video.mp4")          # timeline + file-level top-k
    for r in clf.stream(0):                          # a camera, URL, or a file with live=True
        print(r.label, r.score, r.latency_ms)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import bundle as bundle_mod
from .contract import Contract
from .errors import ContractError, UsageError
from .preprocess import softmax, uniform_clip_starts
from .results import ClipResult, FileResult, Timings, top_k
from .session import CUDA, TRT, Session, SessionConfig, available_providers, open_session
from .video import Clip, DecodeStats, clips_at, probe_duration, sliding_clips


@dataclass
class FileSampling:
    """How clips are taken from a file."""

    hop_seconds: float | None = None  # seconds between clip starts; None = half a clip
    clips: int | None = None  # N clips spread evenly (`videoedge evaluate --clips N`); overrides hop
    batch_size: int = 4  # clips per inference call
    top_k: int = 5  # labels reported per clip and per file

    def __post_init__(self):
        if self.hop_seconds is not None and not self.hop_seconds > 0:
            raise UsageError(f"--hop must be > 0 seconds, got {self.hop_seconds}")
        if self.clips is not None and self.clips < 1:
            raise UsageError(f"--clips must be >= 1, got {self.clips}")
        if self.batch_size < 1 or self.top_k < 1:
            raise UsageError("batch_size and top_k must be >= 1")


class Classifier:
    """An exported bundle loaded on a device. Thread-compatible, not thread-safe."""

    def __init__(self, bundle: str | os.PathLike, device: str = "auto", precision: str = "auto",
                 *, session_config: SessionConfig | None = None,
                 notify: Callable[[str], None] | None = None, session: Session | None = None):
        self.notify = notify or (lambda line: print(f"videoedge: {line}", file=sys.stderr))
        config = session_config or SessionConfig(device=device)
        gpu = config.device in ("cuda", "tensorrt") or (
            config.device == "auto" and bool({CUDA, TRT} & set(available_providers())))
        self.file = bundle_mod.choose_file(bundle, precision, gpu=gpu)
        self.session = session or open_session(self.file.path, config, notify=self.notify)
        self.contract: Contract = bundle_mod.contract_from_metadata(self.session.metadata,
                                                                   self.file)
        bundle_mod.check_graph(self.session, self.contract, self.file)
        self._logits_checked = False

    # -- core ------------------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        return self.contract.labels

    @property
    def device(self) -> str:
        return self.session.device

    def describe(self) -> dict:
        d = bundle_mod.describe(self.file, self.contract)
        d.update(device=self.device, providers=self.session.providers,
                 io_binding=self.session.io_binding)
        return d

    def predict(self, pixel_values: np.ndarray) -> np.ndarray:
        """(B, T, 3, H, W) or (T, 3, H, W) preprocessed clips -> (B, num_labels) probabilities."""
        x = np.asarray(pixel_values)
        if x.ndim == 4:
            x = x[None]
        logits = np.asarray(self.session.run(x), dtype=np.float32)
        if not self._logits_checked:
            if logits.ndim != 2 or logits.shape[0] != x.shape[0]:
                raise ContractError(f"{self.file.path}: output shape {logits.shape} is not "
                                    "(batch, labels); the contract does not describe this model")
            bundle_mod.check_num_logits(logits.shape[1], self.contract, str(self.file.path))
            self._logits_checked = True
        return softmax(logits, axis=-1)

    # -- files -----------------------------------------------------------------------------
    def classify_file(self, path: str | os.PathLike, sampling: FileSampling | None = None,
                      **kwargs) -> FileResult:
        """Clips across the whole file (every `hop_seconds`, or `clips` evenly spread), a
        per-clip timeline and the file-level mean of the clips' probabilities.

        A video shorter than one clip is classified from one clip made of all its frames,
        repeated in order to fill num_frames; the result's `note` says so."""
        sampling = sampling or FileSampling(**kwargs)
        t_start = time.perf_counter()
        stats = DecodeStats()
        contract = self.contract
        if sampling.clips:
            probe = DecodeStats()
            duration = probe_duration(path, probe)
            starts = uniform_clip_starts(duration, contract.clip_seconds, sampling.clips)
            clip_iter = iter(clips_at(path, contract, starts, stats))
            stats.decode_s += probe.decode_s  # the probe pass is decode time too
            stats.frames, stats.last_t = probe.frames, probe.last_t  # the whole file's
            how = f"{sampling.clips} uniform clip{'s' if sampling.clips > 1 else ''}"
        else:
            hop = sampling.hop_seconds or contract.clip_seconds / 2
            clip_iter = sliding_clips(path, contract, hop, stats)
            how = f"hop {hop:.3g} s"
        results: list[ClipResult] = []
        batch: list[Clip] = []
        for clip in clip_iter:
            batch.append(clip)
            if len(batch) == sampling.batch_size:
                results += self._run_batch(batch, sampling.top_k)
                batch = []
        if batch:
            results += self._run_batch(batch, sampling.top_k)
        results.sort(key=lambda r: r.start)
        probs = np.mean([r.probs for r in results], axis=0)
        timings = Timings()
        for r in results:
            timings = timings + r.timings
        if sampling.clips:  # the probe pass's decode time, not attributed to a clip
            timings.decode_ms = stats.decode_s * 1000
        note = ""
        if stats.duration < contract.clip_seconds - 1e-6:
            n = results[0].frames
            note = (f"shorter than one clip ({stats.duration:.2f} s < "
                    f"{contract.clip_seconds:.2f} s): classified from one clip of all its "
                    f"{n} frame{'s' if n != 1 else ''}"
                    + (f", repeated in order to fill {contract.num_frames}"
                       if n < contract.num_frames else ""))
        return FileResult(str(path), stats.duration, stats.fps, stats.frames, how, results,
                          probs, top_k(probs, self.labels, sampling.top_k), timings,
                          (time.perf_counter() - t_start) * 1000, note)

    def _run_batch(self, clips: list[Clip], k: int) -> list[ClipResult]:
        t0 = time.perf_counter()
        probs = self.predict(np.stack([c.pixel_values for c in clips]))
        done = time.perf_counter()
        infer_ms = (done - t0) * 1000 / len(clips)
        return [ClipResult(c.start, c.end, c.frames, p, top_k(p, self.labels, k),
                           Timings(c.decode_s * 1000, c.preprocess_s * 1000, infer_ms),
                           (done - c.ready_at) * 1000)
                for c, p in zip(clips, probs)]

    def classify_files(self, paths, sampling: FileSampling | None = None,
                       **kwargs) -> Iterator[tuple[str, FileResult | Exception]]:
        """(path, result or the SourceError/ValueError it raised) for each path, in order: a
        batch goes on past bad files."""
        from .errors import SourceError

        sampling = sampling or FileSampling(**kwargs)
        for path in paths:
            try:
                yield str(path), self.classify_file(path, sampling)
            except (SourceError, ValueError, OSError) as e:
                if isinstance(e, ContractError):
                    raise
                yield str(path), e

    # -- live ------------------------------------------------------------------------------
    def stream(self, source, *, live: bool = False, config=None, on_notice=None, **kwargs):
        """Results from a live source: a camera index, an RTSP/HTTP URL, or (live=True) a file
        replayed in real time. Returns a `StreamRun`: iterate it for `LiveResult`s, then call
        `.summary()` for frames dropped and lag p95/max. `on_notice(dict)` receives label
        events and reconnect notices. Knobs: `videoedge.runtime.stream.StreamConfig`."""
        from .stream import StreamConfig, classify_stream, open_source

        config = config or StreamConfig(**kwargs)
        capture = open_source(source, config, live=live, clip_seconds=self.contract.clip_seconds)
        return classify_stream(self, capture, config, on_notice)


def looks_like_bundle(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.suffix == ".onnx" or (p.is_dir() and (p / "model.onnx").exists())
