"""Label events from smoothed live scores: `start` when a label takes over, `end` when it
lets go, with hysteresis so a label hovering at a threshold does not flicker.

A label starts when it is the top label with smoothed score >= `on` for `min_results`
results in a row; the current label ends when its score falls below `off` (< `on`) or another
label starts. Each event is a dict ready for the JSONL."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UsageError


@dataclass
class EventConfig:
    on: float = 0.6  # smoothed score at which a label may start
    off: float = 0.4  # smoothed score below which the current label ends (off < on)
    min_results: int = 2  # consecutive results above `on` before a start is emitted

    def __post_init__(self):
        if not 0 <= self.off < self.on <= 1:
            raise UsageError(f"event thresholds need 0 <= off < on <= 1, got on={self.on} "
                             f"off={self.off}")
        if self.min_results < 1:
            raise UsageError("min_results must be >= 1")


class EventDetector:
    def __init__(self, labels: list[str], config: EventConfig | None = None):
        self.labels = labels
        self.config = config or EventConfig()
        self.current: str | None = None  # the label now "on"
        self._since: float = 0.0  # source time it started
        self._candidate: str | None = None
        self._count = 0

    def update(self, smoothed: np.ndarray, t: float) -> list[dict]:
        """Feed one smoothed probability vector at source time `t`; return new events."""
        cfg = self.config
        events: list[dict] = []
        best = int(np.argmax(smoothed))
        best_label, best_score = self.labels[best], float(smoothed[best])
        if self.current is not None:
            score = float(smoothed[self.labels.index(self.current)])
            if score < cfg.off:
                events.append(self._end(t, score))
        if best_score >= cfg.on and best_label != self.current:
            self._count = self._count + 1 if best_label == self._candidate else 1
            self._candidate = best_label
            if self._count >= cfg.min_results:
                if self.current is not None:
                    score = float(smoothed[self.labels.index(self.current)])
                    events.append(self._end(t, score))
                self.current, self._since = best_label, t
                self._candidate, self._count = None, 0
                events.append({"type": "event", "event": "start", "label": best_label,
                               "t": round(t, 4), "score": round(best_score, 6)})
        else:
            self._candidate, self._count = None, 0
        return events

    def finish(self, t: float) -> list[dict]:
        """End the current label at the end of the stream."""
        return [self._end(t, None)] if self.current is not None else []

    def _end(self, t: float, score: float | None) -> dict:
        event = {"type": "event", "event": "end", "label": self.current, "t": round(t, 4),
                 "duration": round(t - self._since, 4)}
        if score is not None:
            event["score"] = round(score, 6)
        self.current = None
        return event
