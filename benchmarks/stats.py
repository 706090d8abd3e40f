"""Pure functions behind the numbers: summaries of timings, the interleaved schedule, and the
run-to-run stability check. No clocks, no processes: these are what the tests pin down."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Summary:
    """Latency of one variant: seconds per call, over `n` timed calls."""

    n: int  # timed calls
    p50: float  # median, seconds
    p95: float  # 95th percentile, seconds (linear interpolation; = max when n < 20)
    p5: float  # 5th percentile, seconds
    mean: float  # arithmetic mean, seconds
    min: float  # fastest call, seconds
    max: float  # slowest call, seconds
    iqr: float  # p75 - p25, seconds

    @property
    def spread(self) -> float:
        """Relative spread: interquartile range over the median (0.05 = +-2.5% around it)."""
        return self.iqr / self.p50 if self.p50 > 0 else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spread"] = self.spread
        return d


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between order statistics
    (numpy's default 'linear' method), without numpy."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(times: Sequence[float]) -> Summary:
    """Summary of per-call times in seconds."""
    times = [float(t) for t in times]
    if not times:
        raise ValueError("no timings to summarize")
    if any(not math.isfinite(t) or t < 0 for t in times):
        raise ValueError("timings must be finite and >= 0")
    return Summary(n=len(times), p50=percentile(times, 50), p95=percentile(times, 95),
                   p5=percentile(times, 5), mean=sum(times) / len(times), min=min(times),
                   max=max(times), iqr=percentile(times, 75) - percentile(times, 25))


def interleaved_schedule(variants: Sequence[str], rounds: int) -> list[tuple[int, str]]:
    """(round, variant) in the order they are timed: A B C A B C ... .

    Every variant gets one turn per round, in the same order, so a slow drift of the
    machine (thermal, a background job) is spread over all variants instead of landing on
    whichever ran last."""
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    if len(set(variants)) != len(variants):
        raise ValueError("variant names must be unique")
    return [(r, v) for r in range(rounds) for v in variants]


@dataclass(frozen=True)
class Agreement:
    """How the p50s of two runs of the same variant compare."""

    variant: str
    previous_p50: float  # seconds
    current_p50: float  # seconds
    tolerance: float  # the relative difference allowed

    @property
    def relative_diff(self) -> float:
        """|current - previous| / previous."""
        return abs(self.current_p50 - self.previous_p50) / self.previous_p50

    @property
    def ok(self) -> bool:
        return self.relative_diff <= self.tolerance


def compare_runs(previous: dict[str, float], current: dict[str, float],
                 tolerance: float = 0.10) -> list[Agreement]:
    """Compare p50s (seconds, by variant) of two runs; only variants present in both."""
    if tolerance <= 0:
        raise ValueError("tolerance must be > 0")
    return [Agreement(v, previous[v], current[v], tolerance)
            for v in current if v in previous and previous[v] > 0]


def runs_agree(agreements: Sequence[Agreement]) -> bool:
    """True when there is something to compare and every variant agrees."""
    return bool(agreements) and all(a.ok for a in agreements)
