"""Make every input the benchmark table needs, with the product's own commands, under one
work folder; steps whose output exists are skipped, so a rerun only benchmarks.

    WORK/data            `videoedge data synth` (only when no --data is given)
    WORK/tiny            `videoedge train DATA --model tiny`
    WORK/tiny-bundle     `videoedge export ... --fp16 --int8 dynamic`
    WORK/tiny-static     `videoedge export ... --int8 static --calib DATA`
    WORK/base/...        `python benchmarks/export_base.py` (random-init VideoMAE-base size:
                         model/, bundle/ with fp32+fp16+int8 dynamic, bundle-static/)

Used by `videoedge bench --prepare` (and `make bench`)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from videoedge.runtime.errors import VideoedgeError

HERE = Path(__file__).resolve().parent


class PrepareError(VideoedgeError, RuntimeError):
    """A command that makes a benchmark input failed."""

    exit_code = 1


@dataclass
class Inputs:
    data: Path  # dataset root with test/
    tiny_model: Path  # trained tiny preset, RUN/model
    tiny_bundles: list[Path]  # dynamic-int8 bundle first, then the static one
    base_model: Path  # random-init VideoMAE-base-sized model directory
    base_bundles: list[Path]


def _videoedge(*args) -> list[str]:
    return [sys.executable, "-m", "videoedge.runtime.cli", *map(str, args)]


def _run(cmd: list[str], log) -> None:
    log("$ " + shlex.join(cmd))
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        raise PrepareError(f"`{shlex.join(cmd)}` failed (status {done.returncode}); fix it and "
                           "rerun: finished steps are kept")


def prepare(work: Path, data: Path | None, log, base: bool = True,
            tiny_model: Path | None = None) -> Inputs:
    """Make the missing inputs under `work`. `tiny_model`: a trained model to export instead
    of training the tiny preset here."""
    work = Path(work).absolute()
    work.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = work / "data"
        if not (data / "test").is_dir():
            _run(_videoedge("data", "synth", data), log)
    data = Path(data).absolute()
    tiny = work / "tiny"
    model = Path(tiny_model).absolute() if tiny_model is not None else tiny / "model"
    if tiny_model is None and not (model / "config.json").is_file():
        _run(_videoedge("train", data, "--model", "tiny", "--out", tiny, "--overwrite"), log)
    dynamic, static = work / "tiny-bundle", work / "tiny-static"
    if not (dynamic / "model.int8.onnx").is_file():
        _run(_videoedge("export", model, "--out", dynamic, "--data", data, "--fp16",
                        "--int8", "dynamic"), log)
    if not (static / "model.int8.onnx").is_file():
        _run(_videoedge("export", model, "--out", static, "--data", data, "--int8",
                        "static", "--calib", data), log)
    b = work / "base"
    if base and not ((b / "bundle" / "model.int8.onnx").is_file()
                     and (b / "bundle-static" / "model.int8.onnx").is_file()):
        _run([sys.executable, str(HERE / "export_base.py"), "--work", str(b), "--data",
              str(data), "--out", str(b / "results")], log)
    return Inputs(data, model, [dynamic, static], b / "model",
                  [b / "bundle", b / "bundle-static"])
