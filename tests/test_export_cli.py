"""`videoedge export` on bad input: one clear line on stderr, exit 2, nothing written.

All of these are caught before torch is imported or anything is exported; the model is the
(untrained) micro model directory. The command runs in-process through the real entry point
(`videoedge.runtime.cli.main`, the same dispatcher and error handling as the console
script), except one run as a subprocess, exactly as a user would."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess

import pytest

from helpers import write_video


def run_cli(*args) -> subprocess.CompletedProcess:
    from videoedge.runtime.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def _assert_refused(proc, *fragments, out=None):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("videoedge: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    if out is not None:
        assert not out.exists()
        leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
        assert leftovers == []


def test_a_folder_that_is_not_a_videomae_model_is_refused(tmp_path, small_dataset):
    out = tmp_path / "bundle"
    _assert_refused(run_cli("export", tmp_path / "nope", "--out", out, "--data", small_dataset),
                    "no such model directory", out=out)
    _assert_refused(run_cli("export", small_dataset, "--out", out, "--data", small_dataset),
                    "not a Hugging Face model directory", out=out)
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}))
    _assert_refused(run_cli("export", bert, "--out", out, "--data", small_dataset),
                    "bert model, not VideoMAE", out=out)


def test_a_model_without_its_contract_is_refused(micro_model_dir, tmp_path, small_dataset):
    from helpers import run_cli as run_cli_subprocess

    bare = tmp_path / "model"
    shutil.copytree(micro_model_dir, bare)
    (bare / "videoedge.json").unlink()
    out = tmp_path / "bundle"
    _assert_refused(run_cli_subprocess("export", bare, "--out", out, "--data", small_dataset),
                    "has no videoedge.json", out=out)


def test_an_unwritable_bundle_path_is_refused(micro_model_dir, tmp_path, small_dataset):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "bundle"
    _assert_refused(run_cli("export", micro_model_dir, "--out", out, "--data", small_dataset),
                    "cannot write")
    if os.geteuid() != 0:  # root writes anywhere: the permission case needs a normal user
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        _assert_refused(run_cli("export", micro_model_dir, "--out", locked / "b",
                                "--data", small_dataset), "not writable")


def test_an_existing_folder_that_is_not_a_bundle_is_never_replaced(micro_model_dir, tmp_path,
                                                                   small_dataset):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    _assert_refused(run_cli("export", micro_model_dir, "--out", keep, "--data", small_dataset),
                    "not a videoedge bundle")
    assert (keep / "notes.txt").read_text() == "precious"


def test_static_int8_without_calibration_data_is_refused(micro_model_dir, tmp_path,
                                                         small_dataset):
    out = tmp_path / "bundle"
    _assert_refused(run_cli("export", micro_model_dir, "--out", out, "--int8", "static",
                            "--data", small_dataset), "--int8 static needs", "--calib", out=out)


@pytest.fixture
def foreign_dataset(tmp_path):
    """A dataset in the UCF101 layout whose classes are not the micro model's labels."""
    root = tmp_path / "other"
    for split in ("train", "test"):
        for label in ("Cats", "Dogs"):
            (root / split / label).mkdir(parents=True)
            write_video(root / split / label / f"v_{label}_g01_c01.avi", frames=40)
    return root


def test_calibration_data_with_other_labels_is_refused(micro_model_dir, tmp_path,
                                                       small_dataset, foreign_dataset):
    out = tmp_path / "bundle"
    _assert_refused(run_cli("export", micro_model_dir, "--out", out, "--int8", "static",
                            "--calib", foreign_dataset, "--data", small_dataset),
                    "--calib", "classes the model does not know: Cats, Dogs", out=out)


def test_parity_data_with_other_labels_is_refused(micro_model_dir, tmp_path, foreign_dataset):
    out = tmp_path / "bundle"
    _assert_refused(run_cli("export", micro_model_dir, "--out", out, "--data", foreign_dataset),
                    "--data", "classes the model does not know", out=out)


def test_without_data_or_a_recorded_dataset_it_asks_for_data(micro_model_dir, tmp_path):
    out = tmp_path / "bundle"
    _assert_refused(run_cli("export", micro_model_dir, "--out", out), "pass --data DATA",
                    out=out)


@pytest.mark.parametrize("args, fragment", [
    (["--opset", "13"], "--opset must be between 18 and"),
    (["--calib", "x"], "--calib is only used by --int8 static"),
    (["--max-clips", "0"], "max_clips must be a positive integer"),
])
def test_bad_options_are_refused(micro_model_dir, tmp_path, small_dataset, args, fragment):
    out = tmp_path / "bundle"
    _assert_refused(run_cli("export", micro_model_dir, "--out", out, "--data", small_dataset,
                            *args), fragment, out=out)


def test_the_export_module_imports_nothing_heavy():
    """`videoedge --help` and bad-input errors must not pay for torch/onnx imports."""
    import subprocess
    import sys

    code = ("import sys, videoedge.export, videoedge.export.cli; "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'transformers') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
