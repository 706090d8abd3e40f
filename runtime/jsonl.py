"""JSONL output that is never half-written.

Each record is serialised first and written as one complete line, then flushed, so a reader
(`tail -f`) or a crash sees whole lines only. `atomic=True` (batches of files) writes to a
temporary sibling that is renamed over the destination when the writer closes, on success,
error or Ctrl-C alike: the destination holds the previous run's file or every complete line
of this one, never a partial file. `atomic=False` (live streams) appends to the destination
directly, line by line, so it can be watched while it grows."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def _default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class JsonlWriter:
    def __init__(self, path: str | os.PathLike | None, *, atomic: bool = True):
        self.path = Path(path) if path is not None else None
        self.atomic = atomic
        self.lines = 0
        self._tmp: Path | None = None
        self._f = None
        if self.path is None:
            return
        from .atomic import check_writable_parent

        check_writable_parent(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if atomic:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                       suffix=".tmp")
            self._tmp = Path(tmp)
            self._f = os.fdopen(fd, "w", encoding="utf-8")
        else:
            self._f = open(self.path, "w", encoding="utf-8")

    def write(self, record: dict) -> None:
        if self._f is None:
            return
        line = json.dumps(record, ensure_ascii=False, default=_default) + "\n"
        self._f.write(line)
        self._f.flush()
        self.lines += 1

    def close(self) -> None:
        if self._f is None:
            return
        f, self._f = self._f, None
        f.flush()
        os.fsync(f.fileno())
        f.close()
        if self._tmp is not None:
            if self.lines:
                os.replace(self._tmp, self.path)
            else:  # nothing to keep: leave any previous file alone
                with contextlib.suppress(FileNotFoundError):
                    self._tmp.unlink()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
