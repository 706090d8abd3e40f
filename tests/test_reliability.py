"""Reliability (issue 8): messy inputs get a correct result or one clear line; nothing hangs,
crashes or is left half-written. The corpus (tests/corpus.py) is made here, in a temp dir."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import corpus
from helpers import run_cli
from test_runtime_fixtures import colour_model, make_bundle, tiny_contract
from videoedge.runtime import Classifier, SourceError

CLI = [sys.executable, "-m", "videoedge.runtime.cli"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture(scope="module")
def clf(bundle):
    return Classifier(bundle, device="cpu", notify=lambda line: None)


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    d = tmp_path_factory.mktemp("messy")
    good = {fn.__name__: fn(d) for fn in corpus.GOOD}
    bad = {fn.__name__: fn(d) for fn in corpus.BAD}
    return d, good, bad


def one_line(text: str) -> bool:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return len(lines) == 1 and "Traceback" not in text


# -- files ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [fn.__name__ for fn in corpus.GOOD])
def test_messy_but_real_videos_are_classified(clf, messy, case):
    path = messy[1][case]
    result = clf.classify_file(path)
    assert result.clips, case
    assert np.isclose(result.probs.sum(), 1.0) and np.all(np.isfinite(result.probs))
    assert result.label in clf.labels
    if case in ("one_frame", "shorter_than_a_clip"):
        assert "shorter than one clip" in result.note


def test_a_truncated_video_is_read_to_its_last_good_frame_not_to_its_header(clf, messy):
    result = clf.classify_file(messy[1]["truncated_in_the_middle"])
    assert 0 < result.frames < 90  # the header says 90; half the file is there


def test_variable_frame_rate_uses_the_containers_timestamps(clf, messy):
    from videoedge.runtime.video import iter_frames

    times = [t for t, _ in iter_frames(messy[1]["variable_frame_rate"])]
    gaps = np.round(np.diff(times), 3)
    assert len(set(gaps)) > 2  # not index / fps


@pytest.mark.parametrize("case", [fn.__name__ for fn in corpus.BAD])
def test_files_that_are_not_videos_get_one_clear_error(clf, messy, case):
    with pytest.raises(SourceError) as err:
        clf.classify_file(messy[2][case])
    assert one_line(str(err.value)) and str(messy[2][case]) in str(err.value)


def test_a_batch_goes_on_past_bad_files_and_lists_them_at_the_end(bundle, messy, tmp_path):
    folder, good, bad = messy
    out = tmp_path / "results.jsonl"
    proc = run_cli("run", bundle, folder, "--json", out, "--device", "cpu", "--quiet")
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    errors = {Path(r["source"]).name for r in records if r.get("type") == "error"}
    classified = [r for r in records if r.get("type") not in ("error", "run")]
    assert errors == {p.name for p in bad.values()}
    assert len(classified) == len(good)
    tail = proc.stderr.strip().splitlines()
    assert f"{len(bad)} of {len(good) + len(bad)} source(s) failed" in "\n".join(tail)
    assert all(any(p.name in line for line in tail) for p in bad.values())


def test_a_folder_that_cannot_be_read_is_one_clear_line(bundle):
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="videoedge-locked-"))  # readable by others, unlike pytest's
    try:
        base.chmod(0o755)
        shutil.copytree(bundle, base / "b")
        for p in (base / "b", *(base / "b").iterdir()):
            p.chmod(0o755 if p.is_dir() else 0o644)
        locked = base / "locked"
        locked.mkdir()
        corpus.shorter_than_a_clip(locked)
        locked.chmod(0)
        cmd = [*CLI, "run", base / "b", locked, "--device", "cpu"]
        if os.geteuid() == 0:  # root reads anything: run the CLI as nobody
            setpriv = shutil.which("setpriv")
            if not setpriv:
                pytest.skip("needs setpriv to drop root")
            cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[1])
        if "No module named" in proc.stderr or "can't open file" in proc.stderr:
            pytest.skip("the test interpreter is not readable by nobody")
        assert proc.returncode == 2, proc.stderr
        assert one_line(proc.stderr) and "permission" in proc.stderr.lower()
        assert str(locked) in proc.stderr
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


# -- cameras and streams ----------------------------------------------------------------
def test_a_camera_that_does_not_exist_fails_fast_with_one_line(bundle):
    started = time.monotonic()
    proc = run_cli("run", bundle, "7", "--device", "cpu", "--reconnects", "1", "--timeout", "2",
                   timeout=120)
    assert proc.returncode in (1, 2), proc.stderr
    assert "camera" in proc.stderr.lower() and "Traceback" not in proc.stderr
    assert time.monotonic() - started < 60  # a bound against hangs, not a speed target


def test_a_url_that_refuses_gives_up_after_bounded_retries(bundle):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("run", bundle, f"http://127.0.0.1:{port}/stream.mjpg", "--device", "cpu",
                   "--reconnects", "2", "--timeout", "2", timeout=180)
    assert proc.returncode in (1, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"127.0.0.1:{port}" in proc.stderr


# -- bundles ----------------------------------------------------------------------------
def _bundle_variant(tmp_path, name, mutate):
    b = make_bundle(tmp_path / name)
    mutate(b)
    return b


def _strip_metadata(b):
    import onnx

    model = colour_model(tiny_contract(), metadata=False)
    onnx.save(model, b / "model.onnx")
    (b / "videoedge.json").unlink()


def _corrupt_metadata(b):
    import onnx

    model = onnx.load(b / "model.onnx")
    for p in model.metadata_props:
        if p.key == "videoedge":
            p.value = '{"labels": ["red", "green"'  # cut JSON
    onnx.save(model, b / "model.onnx")
    (b / "videoedge.json").write_text('{"labels": ["red", "green"')


def _labels_do_not_match_logits(b):
    import onnx

    onnx.save(colour_model(tiny_contract(), num_logits=5), b / "model.onnx")


def _truncated_onnx(b):
    data = (b / "model.onnx").read_bytes()
    (b / "model.onnx").write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("mutate,expect", [
    (_strip_metadata, "metadata"), (_corrupt_metadata, "json"),
    (_labels_do_not_match_logits, "label"), (_truncated_onnx, "onnx"),
])
def test_broken_bundles_are_refused_with_one_line(tmp_path, messy, mutate, expect):
    b = _bundle_variant(tmp_path, mutate.__name__, mutate)
    proc = run_cli("run", b, messy[1]["grayscale"], "--device", "cpu")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert one_line(proc.stderr) and expect in proc.stderr.lower(), proc.stderr


def test_a_missing_bundle_says_how_to_make_one(tmp_path, messy):
    proc = run_cli("run", tmp_path / "nope", messy[1]["grayscale"])
    assert proc.returncode == 2 and one_line(proc.stderr)
    assert "videoedge export" in proc.stderr


# -- Ctrl-C -----------------------------------------------------------------------------
def test_ctrl_c_stops_cleanly_and_keeps_complete_lines(bundle, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    first = corpus.write_cv(folder / "v000.avi", 300, 64, 48)
    for i in range(1, 200):  # enough work that the run cannot finish before the ^C lands
        shutil.copyfile(first, folder / f"v{i:03d}.avi")
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([*CLI, "run", bundle, folder, "--json", out, "--device", "cpu",
                             "--quiet", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    partial = []
    while time.monotonic() < deadline and proc.poll() is None:  # wait for 3 results, then ^C
        partial = list(tmp_path.glob(".out.jsonl.*"))
        if partial and partial[0].read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    lines = out.read_text().splitlines()
    assert 3 <= len(lines) < 200  # kept what was done, and it did not finish
    assert all(json.loads(line) for line in lines)  # every line is whole JSON
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")]


# -- datasets ---------------------------------------------------------------------------
def test_a_dataset_with_an_empty_class_is_refused_by_name(tmp_path, small_dataset):
    from videoedge.runtime import DataError
    from videoedge.train.data import class_folders, scan_split

    data = tmp_path / "d"
    shutil.copytree(small_dataset, data)
    (data / "train" / "Empty").mkdir()
    labels = class_folders(data)
    with pytest.raises(DataError, match="Empty"):
        scan_split(data, "train", labels, 1.0)


def test_corrupt_videos_in_a_dataset_are_skipped_counted_and_reported(tmp_path, small_dataset):
    from videoedge.train.data import class_folders, scan_split

    data = tmp_path / "d"
    shutil.copytree(small_dataset, data)
    cls = sorted((data / "train").iterdir())[0]
    (cls / "v_X_g99_c01.avi").write_bytes(b"\x00" * 100)
    (cls / "v_X_g99_c02.mp4").write_text("not a video")
    labels = class_folders(data)
    split = scan_split(data, "train", labels, 1.0)
    assert len(split.skipped) == 2 and split.num_videos == 12
    assert all("g99" in line for line in split.report())


def test_training_on_a_dataset_path_that_does_not_exist_is_one_line(tmp_path):
    proc = run_cli("train", tmp_path / "nope", "--model", "micro", "--out", tmp_path / "run")
    assert proc.returncode == 2 and one_line(proc.stderr)
    assert not (tmp_path / "run").exists()


def test_unknown_preset_suggests_the_nearest(tmp_path, small_dataset):
    proc = run_cli("train", small_dataset, "--model", "tinny", "--out", tmp_path / "run")
    assert proc.returncode == 2 and "tiny" in proc.stderr and one_line(proc.stderr)
