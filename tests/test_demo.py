"""The main job: `videoedge demo` runs the whole chain and writes a report (here on the micro
preset and a small dataset; `make demo` runs the tiny preset on the default dataset)."""

from __future__ import annotations

import json

import pytest

from videoedge.benchmarks.demo import Demo, DemoConfig
from videoedge.train.synth import SynthConfig


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    config = DemoConfig(out=out, quiet=True, model="micro", epochs=2, bench_runs=1,
                        bench_quick=True,
                        synth=SynthConfig(classes=3, per_class=(4, 1, 2), size=(64, 48),
                                          max_seconds=3.0))
    Demo(config)()
    return out


def test_every_stage_leaves_its_output(demo_dir):
    for rel in ["data/synth.json", "run/model/videoedge.json", "run/metrics.json",
                "run/training_curve.png", "run/preview.gif", "eval.json", "confusion.png",
                "bundle/model.onnx", "bundle/model.fp16.onnx", "bundle/model.int8.onnx",
                "bundle/parity.json", "bundle-static/model.int8.onnx", "bench/latency.json",
                "bench/latency.png", "runtime_test.json", "live.avi", "live_frames.png",
                "report.md", "summary.png", "stage_seconds.json"]:
        assert (demo_dir / rel).is_file(), rel


def test_the_report_shows_accuracy_parity_latency_and_pictures(demo_dir):
    report = (demo_dir / "report.md").read_text()
    for heading in ["## Accuracy", "## Parity", "## Latency", "## Live", "## Stage times"]:
        assert heading in report
    for picture in ["summary.png", "confusion.png", "training_curve.png", "latency.png",
                    "live_frames.png", "preview.gif"]:
        assert picture in report
    rt = json.loads((demo_dir / "runtime_test.json").read_text())
    assert rt["videos"] == 6 and not rt["errors"]


def test_a_rerun_reuses_finished_stages(demo_dir, capsys):
    times_before = json.loads((demo_dir / "stage_seconds.json").read_text())
    Demo(DemoConfig(out=demo_dir, quiet=True, model="micro"))()
    out = capsys.readouterr().out
    assert out.count("reused") == 8  # every stage but the report
    assert json.loads((demo_dir / "stage_seconds.json").read_text())["train"] == times_before["train"]
