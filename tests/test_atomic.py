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


def test_the_target_is_untouched_while_the_new_content_is_written(tmp_path):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"v": 1})
    before = target.read_bytes()
    with atomic.file(target) as tmp:
        tmp.write_text('{"v": 2}')
        assert target.read_bytes() == before  # readers still see the old file
    assert '"v": 2' in target.read_text()
    folder = tmp_path / "run"
    with atomic.directory(folder) as tmp:
        (tmp / "a").write_text("1")
        assert not folder.exists()  # nothing at the target until the folder is complete
    assert (folder / "a").read_text() == "1"


def test_a_failure_between_the_two_renames_puts_the_old_directory_back(tmp_path, monkeypatch):
    import os

    target = tmp_path / "bundle"
    with atomic.directory(target) as tmp:
        (tmp / "old").write_text("old")
    real_replace, calls = os.replace, []

    def second_rename_fails(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # path -> .old has happened; tmp -> path fails
            raise OSError("disk vanished")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="disk vanished"):
        with atomic.directory(target, replace=True) as tmp:
            (tmp / "new").write_text("new")
    monkeypatch.undo()
    assert len(calls) == 3  # the third: .old back to the target
    assert sorted(p.name for p in target.iterdir()) == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


WRITER = """
import sys, time
from pathlib import Path
from videoedge.runtime import atomic
target, stage = Path(sys.argv[1]), sys.argv[2]
if stage == "writing":
    with atomic.directory(target, replace=True) as tmp:
        (tmp / "half").write_text("half")
        print("ready", flush=True)
        time.sleep(60)
else:  # killed between the two renames: path already moved aside, tmp not yet in place
    real = atomic.os.replace
    def replace(src, dst):
        real(src, dst)
        if str(dst).endswith(".old"):
            print("ready", flush=True)
            time.sleep(60)
    atomic.os.replace = replace
    with atomic.directory(target, replace=True) as tmp:
        (tmp / "new").write_text("new")
"""


@pytest.mark.parametrize("stage", ["writing", "between-renames"])
def test_a_sigkill_leaves_the_previous_result_and_the_next_run_cleans_up(stage, tmp_path):
    """SIGKILL, the one signal no handler sees: the previous result survives (or is put back
    by the next writer) and no temporary folder is left once the next run has written."""
    import subprocess
    import sys

    target = tmp_path / "run"
    with atomic.directory(target) as tmp:
        (tmp / "model").write_text("previous")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), stage],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.kill()
    proc.wait()
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "run")
    assert leftovers and all(n.startswith(".run.") for n in leftovers)  # what the kill left
    if stage == "writing":
        assert (target / "model").read_text() == "previous"
    else:
        assert not target.exists()  # the window: the previous result is only in .run.*.old
    with atomic.directory(target, replace=True) as tmp:  # the next writer recovers first
        assert (target / "model").read_text() == "previous"
        (tmp / "model").write_text("next")
    assert (target / "model").read_text() == "next"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
