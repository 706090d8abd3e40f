"""The benchmark harness's pure logic: statistics, the interleaved order, the run-to-run rule,
configs, which variants a bundle and a machine offer (GPU rows included, by injected flags),
the FLOP count, and the output files. No clocks are asserted: speed is the benchmark's job."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from videoedge.benchmarks import stats
from videoedge.benchmarks.config import BenchConfig, ModelBench
from videoedge.benchmarks.variants import Variant, discover, select
from videoedge.runtime.errors import UsageError


# -- statistics ---------------------------------------------------------------------------
def test_percentiles_match_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 20, 101):
        x = rng.exponential(size=n).tolist()
        for q in (0, 5, 25, 50, 75, 95, 100):
            assert math.isclose(stats.percentile(x, q), float(np.percentile(x, q)))


def test_summary_fields_and_spread():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.n, s.p50, s.min, s.max) == (5, 3.0, 1.0, 100.0)
    assert s.iqr == 2.0 and s.spread == pytest.approx(2 / 3)
    assert s.p95 == pytest.approx(80.8)  # the outlier shows in p95, not in p50
    assert s.to_dict()["spread"] == s.spread


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [-1.0]])
def test_summary_rejects_bad_timings(bad):
    with pytest.raises(ValueError):
        stats.summarize(bad)


def test_interleaved_schedule_is_abc_abc():
    order = stats.interleaved_schedule(["A", "B", "C"], 2)
    assert [v for _, v in order] == ["A", "B", "C", "A", "B", "C"]
    assert [r for r, _ in order] == [0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError):
        stats.interleaved_schedule(["A", "A"], 1)
    with pytest.raises(ValueError):
        stats.interleaved_schedule(["A"], 0)


def test_run_to_run_rule():
    prev = {"a": 1.00, "b": 2.00, "gone": 1.0}
    agree = stats.compare_runs(prev, {"a": 1.05, "b": 1.85, "new": 3.0}, tolerance=0.10)
    assert [a.variant for a in agree] == ["a", "b"]  # only variants in both runs
    assert stats.runs_agree(agree)
    worse = stats.compare_runs(prev, {"a": 1.05, "b": 2.5}, tolerance=0.10)
    assert not stats.runs_agree(worse) and [a.ok for a in worse] == [True, False]
    assert worse[1].relative_diff == pytest.approx(0.25)
    assert not stats.runs_agree([])  # nothing compared is not "stable"


# -- configs ------------------------------------------------------------------------------
def test_config_validation(tmp_path):
    with pytest.raises(UsageError, match="rounds"):
        ModelBench(tmp_path, tmp_path, rounds=0)
    with pytest.raises(UsageError, match="nothing to benchmark"):
        BenchConfig(models=[])
    m = ModelBench(tmp_path / "run" / "model", tmp_path)
    assert m.label == "run (trained)"
    assert ModelBench(tmp_path / "base", tmp_path, trained=False).label == "base (random init)"
    with pytest.raises(UsageError, match="did you mean 'ort-cpu-fp32'"):
        BenchConfig(models=[m], variants=("ort-cpu-fp23",))
    with pytest.raises(UsageError, match="no test/ folder"):
        BenchConfig(models=[m], data=tmp_path)
    with pytest.raises(UsageError, match="tolerance"):
        BenchConfig(models=[m], tolerance=1.5)


# -- variants -----------------------------------------------------------------------------
def _files(tmp_path, *precisions):
    names = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8-dynamic": "model.int8.onnx",
             "int8-static": "model.int8-static.onnx"}
    return {p: tmp_path / names[p] for p in precisions}


def test_cpu_variants_and_skips(tmp_path):
    run, skipped = discover(tmp_path, [tmp_path],
                            files=_files(tmp_path, "fp32", "int8-dynamic"))
    names = [v.name for v in run]
    assert names == ["pytorch-eager-fp32", "pytorch-compile-fp32", "ort-cpu-fp32",
                     "ort-cpu-int8-dynamic"]
    why = {s.name: s.reason for s in skipped}
    assert "--fp16" in why["ort-cpu-fp16"] and "--int8 static" in why["ort-cpu-int8-static"]
    assert "no CUDA device" in why["pytorch-cuda-*"]
    assert "onnxruntime-gpu" in why["ort-cuda-*"]
    run, skipped = discover(tmp_path, [tmp_path], compile=False,
                            files=_files(tmp_path, "fp32"))
    assert "pytorch-compile-fp32" not in [v.name for v in run]
    assert any(s.name == "pytorch-compile-fp32" for s in skipped)


def test_gpu_variants_appear_on_a_gpu_machine(tmp_path):
    """The CUDA rows are decided by one explicit rule; it runs here with injected flags
    (the GPU code path itself can only run on a GPU machine)."""
    files = _files(tmp_path, "fp32", "fp16", "int8-dynamic")
    run, skipped = discover(tmp_path, [tmp_path], cuda=True, files=files, ort_providers=(
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"))
    by = {v.name: v for v in run}
    for name in ("pytorch-cuda-fp32", "pytorch-cuda-fp16", "ort-cuda-fp32", "ort-cuda-fp16",
                 "ort-tensorrt-fp32", "ort-tensorrt-fp16"):
        assert name in by
    assert by["ort-cuda-fp16"].path.endswith("model.fp16.onnx")
    assert by["ort-tensorrt-fp16"].path.endswith("model.onnx")  # TensorRT makes its own fp16
    assert by["pytorch-cuda-fp16"].device == "cuda"
    assert not any(s.name.startswith(("pytorch-cuda", "ort-cuda", "ort-tensorrt"))
                   for s in skipped)


def test_select_keeps_the_reference(tmp_path):
    run, skipped = discover(tmp_path, [tmp_path],
                            files=_files(tmp_path, "fp32", "int8-dynamic"))
    keep, skipped = select(run, skipped, ("ort-cpu-int8-dynamic",))
    assert [v.name for v in keep] == ["pytorch-eager-fp32", "ort-cpu-int8-dynamic"]
    assert any(s.reason.startswith("not selected") for s in skipped)
    v = keep[1]
    assert Variant.from_dict(json.loads(json.dumps(v.to_dict()))) == v


def test_bundle_files_are_classified_by_their_graph(tmp_path):
    """A dynamically quantised file is found as int8-dynamic whatever its name says."""
    from test_bench_worker import write_linear_onnx

    write_linear_onnx(tmp_path / "model.onnx", classes=3, shape=(4, 3, 8, 8))
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(tmp_path / "model.onnx"), str(tmp_path / "odd-name.onnx"),
                     weight_type=QuantType.QInt8)
    from videoedge.benchmarks.variants import bundle_files

    found = bundle_files(tmp_path)
    assert found["fp32"].name == "model.onnx"
    assert found["int8-dynamic"].name == "odd-name.onnx"

    # a second export of the same model, --int8 static: also named model.int8.onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"pixel_values": np.ones((1, 4, 3, 8, 8), np.float32) * k}
                               for k in range(2)])

        def get_next(self):
            return next(self.items, None)

    static = tmp_path / "static"
    static.mkdir()
    quantize_static(str(tmp_path / "model.onnx"), str(static / "model.int8.onnx"), Reader(),
                    quant_format=QuantFormat.QDQ)
    found = bundle_files(tmp_path, static)
    assert found["int8-static"] == static / "model.int8.onnx"
    assert found["int8-dynamic"].name == "odd-name.onnx" and found["fp32"].parent == tmp_path


# -- the floor ------------------------------------------------------------------------------
def test_flop_count_agrees_with_the_analytic_count(micro_model_dir):
    from videoedge.benchmarks.floor import count_flops

    f = count_flops(micro_model_dir)
    assert f.counted > 0 and f.rel_diff < 0.01  # eager attention: every matmul is counted
    assert f.tokens == (4 // 2) * (32 // 16) ** 2


def test_analytic_flops_of_videomae_base():
    """VideoMAE-base at 16x224x224 is ~180 GMACs (the published figure)."""
    from videoedge.benchmarks.floor import analytic_flops
    from videoedge.train.presets import get_preset

    flops, tokens = analytic_flops(get_preset("base").config(["a", "b"]))
    assert tokens == 1568
    assert 170e9 < flops / 2 < 190e9


# -- outputs ------------------------------------------------------------------------------
def fake_report(tmp_path) -> dict:
    rows = [
        {"model": "m", "variant": "pytorch-eager-fp32", "backend": "torch", "device": "cpu",
         "precision": "fp32", "status": "ok", "p50_ms": 10.0, "p95_ms": 12.0, "spread_pct": 5,
         "n": 10, "clips_per_s_b1": 100.0, "clips_per_s_batch": 150.0, "x_ort_fp32": 1.25,
         "x_floor": 2.0, "threads": 2, "library": "torch x", "accuracy": 0.9},
        {"model": "m", "variant": "ort-cpu-fp32", "backend": "ort", "device": "cpu",
         "precision": "fp32", "status": "ok", "p50_ms": 8.0, "p95_ms": 9.0, "spread_pct": 3,
         "n": 10, "x_ort_fp32": 1.0, "x_floor": 1.6, "threads": 2, "top1_agreement": 1.0},
        {"model": "m", "variant": "ort-cpu-fp16", "status": "skipped: no fp16 file"},
    ]
    model = {"label": "m (trained)", "model": "M", "bundle": "B", "trained": True,
             "input": "4x3x32x32", "flops": {"flops": 2e9, "analytic": 1.98e9,
                                             "rel_diff": 0.01},
             "gemm": [{"gflops": 400.0, "threads": 2, "shapes": {"2048x2048x2048": 400.0}}],
             "floor_s": 0.005, "timing_source": "2 real clips", "eval_source": "6 clips",
             "timing": "t", "load_avg": [(0.3, 0.4), (0.2, 0.3)],
             "agreements": [{"relative_diff": 0.03}], "stable": True, "tolerance": 0.1,
             "rows": rows, "raw": {"pytorch-eager-fp32": {"p5_ms": 9.0},
                                   "ort-cpu-fp32": {"p5_ms": 7.5}},
             "runs": [{}, {}], "target": None}
    machine = {"cpu": "Test CPU", "cpu_flags": ["avx2"], "physical_cores": 2, "ram_gb": 8,
               "gpu": "-", "threads": 2, "python": "3", "os": "Linux",
               "versions": {"torch": "t", "transformers": "tr", "onnxruntime": "o", "onnx": "x",
                            "numpy": "n"}}
    return {"started": "s", "finished": "f", "command": "python benchmarks/latency.py ...",
            "machine": machine, "models": [model]}


def test_outputs_are_written(tmp_path):
    from videoedge.benchmarks import report

    readme = tmp_path / "README.md"
    readme.write_text(f"# Bench\n\nintro\n\n{report.README_START}\nold\n{report.README_END}\n"
                      "\n## After\n")
    rows = {"rows": [{"path": "run", "files_per_s": 1.5}]}
    (tmp_path / "e2e.json").write_text(json.dumps(rows))
    paths = report.write_all(fake_report(tmp_path), tmp_path, readme)
    assert set(paths) == {"json", "csv", "md", "png"}
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(paths["json"].read_text())
    assert data["models"][0]["rows"][0]["variant"] == "pytorch-eager-fp32"
    csv_lines = paths["csv"].read_text().splitlines()
    assert csv_lines[0].startswith("model,variant,") and len(csv_lines) == 4
    md = paths["md"].read_text()
    assert "| pytorch-eager-fp32 | 10.0 | 12.0 |" in md
    assert "skipped: no fp16 file" in md and "files_per_s" in md
    assert "agree within 10%" in md
    text = readme.read_text()
    assert "old" not in text and "intro" in text and "## After" in text
    assert "| ort-cpu-fp32 | 8.0 |" in text
    report.update_readme(readme, "again\n")  # idempotent: one section, replaced
    assert readme.read_text().count(report.README_START) == 1


def test_a_run_without_end_to_end_figures_shows_none_from_elsewhere(tmp_path):
    """The committed benchmarks/results/e2e.json (another machine, another day) never appears
    in a user's report as if this run had measured it."""
    from videoedge.benchmarks import report

    committed = (report.Path(report.__file__).parent / "results" / "e2e.md")
    paths = report.write_all(fake_report(tmp_path), tmp_path / "out")
    md = paths["md"].read_text()
    assert "were not measured in this run" in md and "measured in this run)" not in md
    if committed.is_file():  # no line of the published table leaks in
        rows = [l for l in committed.read_text().splitlines() if l.startswith("| ") and
                any(c.isdigit() for c in l)]
        assert rows and not any(r in md for r in rows)


def test_target_line():
    from videoedge.benchmarks.latency import target_line

    row = {"variant": "ort-cpu-int8-dynamic", "x_ort_fp32": 0.7}
    assert "**met**" in target_line([row], 0.75)
    assert "NOT met" in target_line([{**row, "x_ort_fp32": 0.8}], 0.75)
    assert target_line([row], None) is None
    assert target_line([{"variant": "ort-cpu-fp32", "x_ort_fp32": 1.0}], 0.75) is None


def test_e2e_rows_come_from_the_runtime_benchmark(tmp_path):
    from videoedge.benchmarks.report import e2e_markdown

    assert e2e_markdown(tmp_path / "e2e.json") is None  # not run yet: no section
    (tmp_path / "e2e.json").write_text("{}")
    (tmp_path / "e2e.md").write_text("# End-to-end\n\n| | videos/s |\n|---|---:|\n| run | 9 |\n")
    text = e2e_markdown(tmp_path / "e2e.json")
    assert text.startswith("| | videos/s |") and "# End-to-end" not in text


def test_prepare_runs_the_product_commands_once(tmp_path, monkeypatch):
    """--prepare makes the inputs with videoedge train/export and export_base.py, and skips
    the steps whose outputs exist."""
    from videoedge.benchmarks import prepare as prep

    commands: list[list[str]] = []
    monkeypatch.setattr(prep, "_run", lambda cmd, log: commands.append(cmd))
    (tmp_path / "data" / "test").mkdir(parents=True)
    inputs = prep.prepare(tmp_path / "work", tmp_path / "data", print)
    verbs = [c[3] if "videoedge.runtime.cli" in c else Path(c[1]).name for c in commands]
    assert verbs == ["train", "export", "export", "export_base.py"]
    # every videoedge command line is one the real parser accepts, with the meaning intended
    from videoedge.runtime.cli import build_parser

    parser = build_parser()
    parsed = [parser.parse_args([str(a) for a in c[3:]]) for c in commands
              if "videoedge.runtime.cli" in c]
    assert parsed[0].command == "train" and parsed[0].model == "tiny"
    assert parsed[1].fp16 and parsed[1].int8 == "dynamic"
    assert parsed[2].int8 == "static" and parsed[2].calib is not None
    import subprocess
    import sys as _sys

    base = [c for c in commands if Path(c[1]).name == "export_base.py"][0]
    helped = subprocess.run([_sys.executable, base[1], "--help"], capture_output=True,
                            text=True, timeout=120)
    options = {a for a in base[2:] if str(a).startswith("--")}
    assert helped.returncode == 0 and all(o in helped.stdout for o in options), options
    assert "dynamic" in commands[1] and "--fp16" in commands[1]
    assert "static" in commands[2] and "--calib" in commands[2]
    assert inputs.tiny_bundles == [tmp_path / "work" / "tiny-bundle",
                                   tmp_path / "work" / "tiny-static"]
    for path in (inputs.tiny_model / "config.json", *(b / "model.int8.onnx" for b in
                                                      inputs.tiny_bundles + inputs.base_bundles)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    commands.clear()
    prep.prepare(tmp_path / "work", tmp_path / "data", print)
    assert commands == []


def test_prepare_exports_a_given_model_instead_of_training(tmp_path, monkeypatch):
    from videoedge.benchmarks import prepare as prep

    commands: list[list[str]] = []
    monkeypatch.setattr(prep, "_run", lambda cmd, log: commands.append(cmd))
    (tmp_path / "data" / "test").mkdir(parents=True)
    inputs = prep.prepare(tmp_path / "work", tmp_path / "data", print, base=False,
                          tiny_model=tmp_path / "run" / "model")
    assert [c[3] for c in commands] == ["export", "export"]
    assert str(tmp_path / "run" / "model") in commands[0]
    assert inputs.tiny_model == tmp_path / "run" / "model"


def test_busy_machine_stops_before_measuring(monkeypatch):
    from videoedge.benchmarks import latency, machine

    monkeypatch.setattr(machine, "load_average", lambda: 5.0)
    with pytest.raises(latency.BusyMachineError, match="nothing was measured"):
        latency.wait_for_quiet(1.2, 0.0, print)
    assert latency.wait_for_quiet(1.2, 0.0, print, strict=False)["quiet"] is False
    monkeypatch.setattr(machine, "load_average", lambda: 0.5)
    assert latency.wait_for_quiet(1.2, 0.0, print)["quiet"] is True


def test_busy_runs_are_flagged_in_the_table(tmp_path):
    from videoedge.benchmarks import report

    r = fake_report(tmp_path)
    r["models"][0]["other_cpu_cores"] = [0.05, 0.9]  # the load average counts our threads
    assert "BUSY MACHINE" in report.markdown(r)
    r["models"][0]["other_cpu_cores"] = [0.05, 0.1]
    assert "BUSY MACHINE" not in report.markdown(r)


def test_other_cpu_excludes_our_own_work(monkeypatch):
    """Busy CPU time of the whole machine minus our own (and our children's), per second."""
    from videoedge.benchmarks.machine import OtherCpu

    samples = iter([(10.0, 100.0, 5.0),  # start: time, machine busy s, our s
                    (12.0, 104.0, 8.0),  # 2 s later: machine +4 s busy, of which 3 s ours
                    (20.0, 200.0, 30.0), (22.0, 203.0, 33.0)])  # all of it ours
    monkeypatch.setattr(OtherCpu, "_sample", staticmethod(lambda: next(samples)))
    assert OtherCpu().stop() == pytest.approx(0.5)  # (4 - 3) / 2 s: half a core of others
    assert OtherCpu().stop() == pytest.approx(0.0)
    # the real sampler counts our own work as ours: machine busy >= our share
    monkeypatch.undo()
    t0, busy0, mine0 = OtherCpu._sample()
    sum(i * i for i in range(300_000))
    t1, busy1, mine1 = OtherCpu._sample()
    assert mine1 > mine0 and t1 > t0 and busy1 >= busy0


def test_e2e_calls_the_machine_shared_only_when_someone_else_was_working_before_the_run():
    from videoedge.benchmarks.e2e import _busy

    assert "quiet" in _busy({"cores": 2, "load_before": "0.51 0.56 0.41"})
    assert "shared" in _busy({"cores": 2, "load_before": "1.27 0.66 0.40"})
    assert _busy({"cores": 2, "load_before": "n/a"}) == "load unknown"
