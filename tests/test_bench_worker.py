"""The benchmark's processes: a worker driven over its pipe, and a whole (tiny) benchmark run
on a micro VideoMAE plus a hand-made ONNX model, writing every output file.
Nothing here asserts a speed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest


def write_linear_onnx(path: Path, classes: int, shape: tuple, contract=None) -> Path:
    """A tiny ONNX classifier with the bundle's interface: pixel_values (batch, T, 3, H, W)
    -> mean over T, H, W -> MatMul -> logits (batch, classes)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((3, classes)).astype(np.float32), "w")
    axes = numpy_helper.from_array(np.array([1, 3, 4], dtype=np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["pixel_values", "axes"], ["pooled"], keepdims=0),
         helper.make_node("MatMul", ["pooled", "w"], ["logits"])],
        "linear",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", *shape])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        initializer=[w, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    if contract is not None:
        helper.set_model_props(model, {"videoedge": contract.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def micro_bundle(tmp_path_factory, micro_model_dir):
    """A bundle for the micro model: a hand-made fp32 file and its dynamic int8 version."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from videoedge.runtime.contract import Contract

    contract = Contract.load(micro_model_dir)
    bundle = tmp_path_factory.mktemp("bundle")
    write_linear_onnx(bundle / "model.onnx", contract.num_classes,
                      contract.input_shape(1)[1:], contract)
    quantize_dynamic(str(bundle / "model.onnx"), str(bundle / "model.int8.onnx"),
                     weight_type=QuantType.QInt8)
    contract.save(bundle)
    return bundle


def test_ort_worker_protocol(tmp_path, micro_bundle):
    """Ready -> time -> predict -> exit over the pipe; no torch in an ONNX Runtime worker."""
    from videoedge.benchmarks.process import WorkerError, WorkerProcess
    from videoedge.benchmarks.variants import Variant

    clips = np.random.default_rng(0).standard_normal((3, 4, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "clips.npy", clips)
    v = Variant("ort-cpu-fp32", "ort", "cpu", "fp32", str(micro_bundle / "model.onnx"))
    w = WorkerProcess(v, tmp_path / "clips.npy", 1, tmp_path / "w.log", tmp_path)
    try:
        assert w.ready["library"].startswith("onnxruntime") and w.ready["threads"] == 1
        assert w.ready["torch_imported"] is False  # its RSS is ONNX Runtime's alone
        times = w.time(batch=2, calls=4)
        assert len(times) == 4 and all(t > 0 for t in times)
        assert w.predict(tmp_path / "clips.npy", tmp_path / "logits.npy", batch=2) == 3
        logits = np.load(tmp_path / "logits.npy")
        assert logits.shape == (3, 3)
        with pytest.raises(WorkerError, match="unknown command"):
            w.request({"cmd": "nope"})
        assert len(w.time(batch=1, calls=1)) == 1  # an error does not end the worker
        bye = w.close()
    finally:
        w.kill()
    assert bye.get("peak_rss_mb", 0) > 0


def test_failed_worker_is_reported_not_raised_later(tmp_path):
    from videoedge.benchmarks.process import WorkerError, WorkerProcess
    from videoedge.benchmarks.variants import Variant

    np.save(tmp_path / "clips.npy", np.zeros((1, 4, 3, 32, 32), np.float32))
    v = Variant("ort-cpu-fp32", "ort", "cpu", "fp32", str(tmp_path / "missing.onnx"))
    with pytest.raises(WorkerError, match="ort-cpu-fp32: .*missing.onnx"):
        WorkerProcess(v, tmp_path / "clips.npy", 1, tmp_path / "w.log", tmp_path)


def test_whole_benchmark_on_a_micro_model(tmp_path, micro_model_dir, micro_bundle,
                                          small_dataset, monkeypatch):
    """Two runs (fresh workers each), interleaved rounds, accuracy pass, every output file."""
    from videoedge.benchmarks.config import BenchConfig, ModelBench
    from videoedge.benchmarks.latency import run

    mb = ModelBench(micro_model_dir, micro_bundle, label="micro (trained)", batch=2, warmup=1,
                    rounds=2, calls_per_turn=2, batch_rounds=1, timing_clips=2)
    cfg = BenchConfig(models=[mb], data=small_dataset, out=tmp_path / "out", threads=1,
                      compile=False, max_runs=2, tolerance=0.5, gap_s=0.0,
                      readme=tmp_path / "README.md")
    from videoedge.benchmarks.process import WorkerProcess

    calls: list[tuple[int, str]] = []  # (batch, variant) in the order timed
    real_time = WorkerProcess.time

    def recording_time(self, batch, n, *args, **kwargs):
        calls.append((batch, self.variant.name))
        return real_time(self, batch, n, *args, **kwargs)

    monkeypatch.setattr(WorkerProcess, "time", recording_time)
    lines: list[str] = []
    report = run(cfg, command="test", log=lines.append)
    m = report["models"][0]
    by = {r["variant"]: r for r in m["rows"]}
    measured = ["pytorch-eager-fp32", "ort-cpu-fp32", "ort-cpu-int8-dynamic"]
    for name in measured:
        r = by[name]
        assert r["status"] == "ok", r["status"]
        assert r["n"] == 4  # 2 rounds x 2 calls
        assert r["peak_rss_mb"] > 0 and r["file_mb"] > 0
        assert r["eval_n"] == 6 and 0 <= r["accuracy"] <= 1  # 3 classes x 2 test videos
        assert r["threads"] == 1 and r["machine"] and "onnxruntime" in r["versions"]
    # ratios are to ORT fp32's own p50, row by row
    for name in measured:
        assert by[name]["x_ort_fp32"] == pytest.approx(
            by[name]["p50_ms"] / by["ort-cpu-fp32"]["p50_ms"], rel=0.02)
    assert 0 <= by["ort-cpu-int8-dynamic"]["top1_agreement"] <= 1
    # interleaved: after each variant's warm-up, the timed calls of a run go A B C A B C
    # (batch 1 rounds, then batch rounds), never A A B B
    order = [v for b, v in calls if b == 1]
    timed = order[-2 * len(measured):]  # the last run's two batch-1 rounds
    assert timed == measured_order(timed, len(measured)) * 2
    assert by["pytorch-compile-fp32"]["status"].startswith("skipped")
    # the interleaved order, as the workers saw it: the schedule is the one in stats
    raw = m["runs"][-1]
    assert all(len(raw[name]["times_b1_s"]) == 4 for name in measured)
    assert m["flops"]["rel_diff"] < 0.05 and m["gemm"][-1]["gflops"] > 0
    for ext in ("json", "csv", "md", "png"):
        assert (tmp_path / "out" / f"latency.{ext}").stat().st_size > 0
    assert "| pytorch-eager-fp32 |" in (tmp_path / "README.md").read_text()
    assert any("interleaved rounds" in line for line in lines)
    # two runs, compared (whether they agree depends on the machine: not asserted here)
    assert len(m["runs"]) == 2 and isinstance(m["stable"], bool)
    assert by["ort-cpu-fp32"]["run_diff_pct"] is not None


def measured_order(timed: list[str], n: int) -> list[str]:
    """The first round's order (each variant once)."""
    first = timed[:n]
    assert len(set(first)) == n, timed
    return first


def test_cli_help_and_script_entry():
    import subprocess

    from helpers import run_cli

    out = run_cli("bench", "--help", timeout=120)
    assert out.returncode == 0 and "--base-bundle" in out.stdout
    script = Path(__file__).parents[1] / "benchmarks" / "latency.py"
    out = subprocess.run([sys.executable, str(script), "--model", "nowhere", "--bundle", "x"],
                         capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 2 and "not a model directory" in out.stderr
