"""Timers per export step: wall seconds and peak resident memory of each step.

Peak RSS per step uses Linux's resettable high-water mark (writing 5 to
/proc/self/clear_refs resets VmHWM); elsewhere it falls back to the process-lifetime peak
(`ru_maxrss`), which is then an upper bound and marked as such."""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Step:
    name: str  # e.g. "export fp32", "parity int8"
    seconds: float  # wall time
    peak_rss_mb: float  # peak resident memory during the step (process, MB)
    peak_is_lifetime: bool  # True when the OS could not reset the peak: an upper bound


@dataclass
class StepLog:
    steps: list[Step] = field(default_factory=list)
    echo: bool = False  # print one line per finished step to stderr

    @contextlib.contextmanager
    def step(self, name: str):
        resettable = _reset_peak()
        start = time.perf_counter()
        try:
            yield
        finally:
            step = Step(name, round(time.perf_counter() - start, 3), round(_peak_mb(), 1),
                        not resettable)
            self.steps.append(step)
            if self.echo:
                print(f"  {name}: {step.seconds:.1f} s, peak RSS {step.peak_rss_mb:.0f} MB",
                      file=sys.stderr)

    def to_list(self) -> list[dict]:
        return [asdict(s) for s in self.steps]

    @property
    def peak_rss_mb(self) -> float:
        return max((s.peak_rss_mb for s in self.steps), default=0.0)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
