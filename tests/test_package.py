"""The package: one namespace, a torch-free base install, and a CLI that says what to install."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_runtime_does_not_import_torch():
    code = "import sys, videoedge.runtime, videoedge.runtime.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_stages_live_in_one_namespace_not_as_bare_top_level_names():
    import videoedge.runtime
    import videoedge.train

    assert Path(videoedge.runtime.__file__).parent == ROOT / "runtime"
    assert Path(videoedge.train.__file__).parent == ROOT / "train"
    code = "import importlib.util as u; print([u.find_spec(n) is None for n in ('runtime','train','export')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/")
    assert out.stdout.strip() == "[True, True, True]"


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory):
    """`pip install .` with no extras, in a brand-new virtual environment."""
    env = tmp_path_factory.mktemp("base") / "venv"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "--quiet", str(ROOT)], check=True,
                   capture_output=True, timeout=600)
    return env


def test_base_install_runs_the_runtime_without_torch(base_venv):
    py = base_venv / "bin" / "python"
    code = ("import sys, videoedge.runtime, videoedge.runtime.video, videoedge.runtime.preprocess;"
            "import importlib.util as u;"
            "print('torch' in sys.modules, u.find_spec('torch') is None)")
    out = subprocess.run([py, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False True"  # not imported, and not even installed


def test_base_install_makes_the_synthetic_dataset(base_venv, tmp_path):
    exe = base_venv / "bin" / "videoedge"
    out = subprocess.run([exe, "data", "synth", tmp_path / "d", "--classes", "2",
                          "--per-class", "1,0,0", "--quiet"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "d" / "train").glob("*/*.*"))) == 2


@pytest.mark.parametrize("command", [["train", "DATA", "--model", "tiny", "--out", "RUN"],
                                     ["export", "MODEL", "--out", "BUNDLE"]])
def test_a_command_whose_extra_is_missing_prints_the_pip_line(base_venv, command, tmp_path):
    exe = base_venv / "bin" / "videoedge"
    out = subprocess.run([exe, *command], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    extra = command[0]
    assert f"pip install 'videoedge[{extra}]'" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_cli_errors_are_one_line_with_exit_2(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    out = run_cli("data", "synth", tmp_path / "full")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "not empty" in out.stderr
    assert (tmp_path / "full" / "x").read_text() == "keep me"


def test_base_install_classifies_a_file_and_a_live_replay(base_venv, tmp_path):
    """Not only imports: the runtime-only install (no torch, no extras) does the runtime's
    work end to end, on a file and on a file replayed as if live."""
    from test_runtime_fixtures import GREEN, RED, colour_video, make_bundle, read_jsonl

    bundle = make_bundle(tmp_path / "bundle")
    video = colour_video(tmp_path / "v.avi", [RED, GREEN], seconds_each=1.5)
    exe = base_venv / "bin" / "videoedge"
    for extra, name in (([], "file"), (["--live", "--hop", "0.25"], "live")):
        out = tmp_path / f"{name}.jsonl"
        done = subprocess.run([exe, "run", bundle, video, "--device", "cpu", "--json", out,
                               *extra], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        records = read_jsonl(out)
        if name == "file":  # one file record holding its clip timeline
            labels = [c["label"] for r in records if r["type"] == "file" for c in r["clips"]]
        else:  # live: a record per result
            labels = [r["label"] for r in records if r["type"] == "clip"]
        assert labels and labels[0] == "red" and labels[-1] == "green", labels
    summary = [r for r in records if r["type"] == "summary"][-1]
    assert summary["frames_captured"] > 0
    probe = subprocess.run([base_venv / "bin" / "python", "-c",
                            "import importlib.util as u; print(u.find_spec('torch') is None)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "True"
