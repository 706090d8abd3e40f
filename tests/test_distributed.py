"""`torchrun --nproc_per_node 2` runs `train` and `pretrain` data-parallel (gloo on the CPU):
one run folder, written once, one model (every process ends with the same weights)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("pytorchvideo")


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    launcher = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(launcher), "--standalone", "--nproc_per_node", "2",
                           "-m", "videoedge.runtime.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_two_processes_make_one_run_and_one_model(command, small_dataset, tmp_path):
    out = tmp_path / "run"
    done = torchrun(command, str(small_dataset), "--model", "micro", "--out", str(out),
                    "--max-steps", "3", "--batch-size", "2", "--workers", "0", "--quiet",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("wrote ") == 1  # the main process reports, once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .partial, no temp dirs
    m = json.loads((out / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["replicas_identical"] is True and m["steps"] == 3
    from transformers import AutoModel

    AutoModel.from_pretrained(out / "model")  # a normal HF directory
