"""Atomic writes: a reader sees the old file or the new file, never half of one.

Files are written to a temporary sibling and renamed into place (rename is atomic on one
filesystem). Directories are built under a temporary sibling name and swapped in at the end,
so an interrupted run leaves no half-written output directory behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


def umask() -> int:
    """The process's umask, read without changing it (Linux), else by setting it back."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_umask_allows(path, *, directory: bool = False) -> None:
    """Temporary files and folders are created private (0600 / 0700); what they become must
    have the permissions any other file would get (e.g. 0644 / 0755 under umask 022), so a
    service user can read a model or a report."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        _as_umask_allows(tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success rename it to `path`, else delete it.

    For writers that want a filename (cv2.VideoWriter, onnx.save, matplotlib)."""
    path = Path(path)
    suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{suffix}")
    os.close(fd)
    tmp = Path(tmp)
    try:
        _as_umask_allows(tmp)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def directory(path: str | os.PathLike, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory beside `path`; on success it becomes `path`.

    With `replace=True` an existing `path` is swapped out only after the new one is complete,
    so a failure at any point leaves the old directory untouched. On failure the temporary
    directory is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        _as_umask_allows(tmp, directory=True)
        yield tmp
        if path.exists():
            if not replace:
                raise FileExistsError(f"{path} appeared while it was being written")
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.rmdir(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_writable_parent(path: str | os.PathLike) -> None:
    """Raise UsageError unless `path`'s nearest existing ancestor is a writable directory."""
    from .errors import UsageError

    p = Path(path).absolute()
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {p}: {parent} is not writable; choose another output path")
