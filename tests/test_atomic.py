"""Atomic writes: readers see the old output or the new one, never a half-written one."""

from __future__ import annotations

import pytest

from videoedge.runtime import atomic


def test_a_failed_file_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic.file(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text().strip().startswith("{") and '"v": 1' in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_directory_appears_only_when_complete(tmp_path):
    target = tmp_path / "bundle"
    with pytest.raises(KeyboardInterrupt):
        with atomic.directory(target) as tmp:
            (tmp / "a").write_text("1")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic.directory(target) as tmp:
        (tmp / "a").write_text("1")
    assert (target / "a").read_text() == "1"


def test_replacing_a_directory_keeps_the_old_one_until_the_new_one_is_done(tmp_path):
    target = tmp_path / "bundle"
    with atomic.directory(target) as tmp:
        (tmp / "old").write_text("old")
    with pytest.raises(ValueError):
        with atomic.directory(target, replace=True) as tmp:
            (tmp / "new").write_text("new")
            raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["old"]
    with atomic.directory(target, replace=True) as tmp:
        (tmp / "new").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_written_files_and_folders_get_the_umasks_permissions(tmp_path):
    """Not the private 0600 / 0700 of temporary files: a service user must be able to read a
    model, a contract or a report (issue: files a service user cannot read)."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "a.json", "{}")
        with atomic.file(tmp_path / "b.png") as tmp:
            tmp.write_bytes(b"x")
        with atomic.directory(tmp_path / "run") as d:
            atomic.write_text(d / "metrics.json", "{}")
        os.umask(0o077)
        atomic.write_text(tmp_path / "private.json", "{}")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)
    assert mode(tmp_path / "a.json") == mode(tmp_path / "b.png") == 0o644
    assert mode(tmp_path / "run") == 0o755 and mode(tmp_path / "run" / "metrics.json") == 0o644
    assert mode(tmp_path / "private.json") == 0o600  # a stricter umask is kept too
