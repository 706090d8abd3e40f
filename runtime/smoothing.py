"""Score smoothing for live results: a moving average over the last N results, or an
exponential moving average. Both take and give probability vectors."""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from .errors import UsageError

METHODS = ("none", "mean", "ema")


@dataclass
class SmoothingConfig:
    method: str = "ema"  # none | mean (moving average) | ema (exponential moving average)
    window: int = 4  # mean: number of recent results averaged
    alpha: float = 0.5  # ema: weight of the newest result, 0 < alpha <= 1

    def __post_init__(self):
        if self.method not in METHODS:
            raise UsageError(f"--smoothing {self.method!r}: choose one of {', '.join(METHODS)}")
        if self.window < 1:
            raise UsageError(f"smoothing window must be >= 1, got {self.window}")
        if not 0 < self.alpha <= 1:
            raise UsageError(f"smoothing alpha must be in (0, 1], got {self.alpha}")

    @classmethod
    def parse(cls, text: str) -> SmoothingConfig:
        """`none`, `mean`, `mean:8`, `ema`, `ema:0.3` (the CLI's --smoothing)."""
        method, _, arg = text.partition(":")
        try:
            if method == "mean" and arg:
                return cls(method, window=int(arg))
            if method == "ema" and arg:
                return cls(method, alpha=float(arg))
        except ValueError:
            raise UsageError(f"--smoothing {text!r}: expected mean:N or ema:ALPHA") from None
        return cls(method)


class Smoother:
    def __init__(self, config: SmoothingConfig | None = None):
        self.config = config or SmoothingConfig()
        self._recent: collections.deque = collections.deque(maxlen=self.config.window)
        self._ema: np.ndarray | None = None

    def update(self, probs: np.ndarray) -> np.ndarray:
        probs = np.asarray(probs, dtype=np.float64)
        method = self.config.method
        if method == "none":
            return probs
        if method == "mean":
            self._recent.append(probs)
            return np.mean(self._recent, axis=0)
        a = self.config.alpha
        self._ema = probs if self._ema is None else a * probs + (1 - a) * self._ema
        return self._ema

    def reset(self) -> None:
        self._recent.clear()
        self._ema = None
