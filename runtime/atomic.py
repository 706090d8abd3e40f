"""Atomic writes: a reader sees the old file or the new file, never half of one.

Files are written to a temporary sibling and renamed into place (rename is atomic on one
filesystem). Directories are built under a temporary sibling name and swapped in at the end,
so an interrupted run leaves no half-written output directory behind."""

from __future__ import annotations

import contextlib
import glob
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: alive, someone else's
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _siblings(path: Path, suffix: str) -> list[tuple[Path, int]]:
    """`.NAME.<pid>.<random>SUFFIX` folders beside `path`, with the pid that made them."""
    found = []
    for p in path.parent.glob(f".{glob.escape(path.name)}.*{suffix}"):
        parts = p.name[len(path.name) + 2:].split(".")
        if len(parts) >= 2 and parts[0].isdigit():
            found.append((p, int(parts[0])))
    return found


def recover(path: str | os.PathLike) -> None:
    """Undo what a killed writer left beside `path`: put back a previous result that was moved
    aside (killed between the two renames of a replace) and delete temporary folders of
    processes that no longer exist. A live writer's folders are left alone."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    olds = [(p, pid) for p, pid in _siblings(path, ".old") if not _pid_alive(pid)]
    if olds and not path.exists():
        newest = max(olds, key=lambda item: item[0].stat().st_mtime)[0]
        os.replace(newest, path)
        olds = [(p, pid) for p, pid in olds if p != newest]
    for p, _ in olds + [(p, pid) for p, pid in _siblings(path, ".tmp") if not _pid_alive(pid)]:
        shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def directory(path: str | os.PathLike, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory beside `path`; on success it becomes `path`.

    With `replace=True` an existing `path` is swapped out only after the new one is complete,
    so a failure at any point leaves the old directory in place (an exception between the two
    renames puts it back; a kill there is undone by the next writer, `recover`). On failure
    the temporary directory is removed; one left by a killed process is removed by the next
    writer of `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                                suffix=".tmp"))
    old = None
    try:
        _as_umask_allows(tmp, directory=True)
        yield tmp
        if path.exists():
            if not replace:
                raise FileExistsError(f"{path} appeared while it was being written")
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                                        suffix=".old"))
            os.rmdir(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        if old is not None and old.exists() and not path.exists():
            os.replace(old, path)  # failed between the two renames: the old one goes back
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
