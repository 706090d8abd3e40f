"""The parent's side of a worker: start it, send one command, wait for its one reply.

A worker that dies, answers with an error, or says nothing for too long becomes a
`WorkerError` naming the variant, the reason, and the log file with the details."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from videoedge.runtime.errors import VideoedgeError

from .variants import Variant

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class WorkerError(VideoedgeError, RuntimeError):
    """A variant's worker failed; the benchmark records it in that variant's row."""

    exit_code = 1


class WorkerProcess:
    def __init__(self, variant: Variant, clips: Path, threads: int, log: Path,
                 cache_dir: Path, start_timeout: float = 900.0):
        self.variant = variant
        self.log = Path(log)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update({k: str(threads) for k in THREAD_ENV})
        env["PYTHONUNBUFFERED"] = "1"
        self._log_file = open(self.log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "videoedge.benchmarks.worker",
             "--variant", json.dumps(variant.to_dict()), "--clips", str(clips),
             "--threads", str(threads), "--cache-dir", str(cache_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log_file,
            text=True, bufsize=1, env=env)
        self.ready = self._read(start_timeout)  # load_s, rss_*_mb, library, threads, ...

    def request(self, cmd: dict, timeout: float = 900.0) -> dict:
        if self.proc.poll() is not None:
            raise self._error("the worker is not running")
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise self._error("the worker exited") from None
        return self._read(timeout)

    def time(self, batch: int, calls: int, timeout: float = 900.0) -> list[float]:
        return self.request({"cmd": "time", "batch": batch, "calls": calls}, timeout)["times"]

    def predict(self, clips: Path, out: Path, batch: int, timeout: float = 3600.0) -> int:
        return self.request({"cmd": "predict", "clips": str(clips), "out": str(out),
                             "batch": batch}, timeout)["n"]

    def close(self, timeout: float = 60.0) -> dict:
        """Ask the worker to exit; its final reply carries the peak RSS. {} when it is gone."""
        reply: dict = {}
        try:
            if self.proc.poll() is None:
                reply = self.request({"cmd": "exit"}, timeout)
        except WorkerError:
            pass
        finally:
            self.kill()
        return reply

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()
        self._log_file.close()

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise self._error(f"no answer within {timeout:.0f} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    self.proc.wait()
                    raise self._error(f"the worker exited (status {self.proc.returncode})")
                reply = json.loads(line)
                if not reply.get("ok"):
                    raise self._error(reply.get("error", "failed"))
                return reply

    def _error(self, why: str) -> WorkerError:
        tail = ""
        try:
            lines = [l for l in self.log.read_text(errors="replace").splitlines() if l.strip()]
            tail = f"; last log line: {lines[-1][:200]}" if lines else ""
        except OSError:
            pass
        return WorkerError(f"{self.variant.name}: {why} (log: {self.log}){tail}")
