"""Export stage (issue 4): a trained micro VideoMAE exported to fp32, fp16 and int8 ONNX, each
carrying its contract, each checked against PyTorch on real held-out clips; failures are loud
and leave nothing half-written; a bundle runs with plain onnxruntime.

Parity limits need logits that mean something (a random-init model's are near ties), so the
module first trains the micro preset briefly on the small synthetic dataset (a plain torch
loop on real decoded clips, seconds)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

from videoedge.export import ExportConfig, ParityLimits, export_bundle
from videoedge.runtime.contract import Contract
from videoedge.runtime.errors import ParityError

README = Path(__file__).resolve().parents[1] / "export" / "README.md"


# -- fixtures: one bundle of the trained micro model (conftest.py) --------------------------
@pytest.fixture(scope="module")
def bundle(trained_micro, tmp_path_factory):
    """fp32 + fp16 + int8 dynamic; the parity data comes from RUN/metrics.json."""
    out = tmp_path_factory.mktemp("bundles") / "bundle"
    result = export_bundle(ExportConfig(model=trained_micro, out=out, fp16=True, int8="dynamic"))
    return out, result


# -- the bundle ---------------------------------------------------------------------------
def test_bundle_holds_the_design_files_and_nothing_else(bundle):
    out, result = bundle
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["model.onnx", "model.fp16.onnx", "model.int8.onnx", "videoedge.json", "parity.json",
         "parity.md"])
    assert result.passed
    assert result.files == {"model.onnx": "fp32", "model.fp16.onnx": "fp16",
                            "model.int8.onnx": "int8"}
    # no temporary siblings left beside the bundle
    assert [p.name for p in out.parent.iterdir()] == ["bundle"]


def test_every_onnx_file_carries_the_contract_with_its_own_precision(bundle, trained_micro):
    from videoedge.export.onnx import read_contract

    out, _ = bundle
    trained = Contract.load(trained_micro)
    for name, precision in (("model.onnx", "fp32"), ("model.fp16.onnx", "fp16"),
                            ("model.int8.onnx", "int8")):
        c = read_contract(out / name)
        assert c.precision == precision
        assert c.labels == trained.labels and c.num_frames == trained.num_frames
        assert c.clip_seconds == trained.clip_seconds and c.mean == trained.mean
        assert c.versions["exporter"].startswith("torch.onnx.export")
    side = json.loads((out / "videoedge.json").read_text())
    assert side["files"] == {"model.onnx": "fp32", "model.fp16.onnx": "fp16",
                             "model.int8.onnx": "int8"}
    assert Contract.load(out).labels == trained.labels


def test_graphs_take_fp32_pixel_values_with_a_dynamic_batch_and_pass_the_full_check(bundle):
    import onnx
    import onnxruntime as ort

    from videoedge.export.onnx import io_signature

    out, _ = bundle
    c = Contract.load(out)
    for name in ("model.onnx", "model.fp16.onnx", "model.int8.onnx"):
        onnx.checker.check_model(str(out / name), full_check=True)
        sig = io_signature(out / name)
        assert sig["pixel_values"] == ("FLOAT", ["batch", c.num_frames, 3, c.height, c.width])
        assert sig["logits"][0] == "FLOAT"
        session = ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])
        for batch in (1, 3):
            x = np.zeros(c.input_shape(batch), np.float32)
            assert session.run(None, {"pixel_values": x})[0].shape == (batch, len(c.labels))
    int8 = onnx.load(str(out / "model.int8.onnx"))
    assert any(n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul") for n in int8.graph.node)
    fp16 = onnx.load(str(out / "model.fp16.onnx"))
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in fp16.graph.initializer)


def test_parity_is_measured_on_real_held_out_clips_within_the_limits(bundle, small_dataset):
    out, result = bundle
    report = json.loads((out / "parity.json").read_text())
    assert report["passed"] and report["failures"] == []
    clips = report["clips"]
    assert Path(clips["split_dir"]) == small_dataset / "test"  # from RUN/metrics.json
    assert clips["count"] == 12 and clips["videos"] == 6  # 3 classes x 2 videos x 2 clips
    by_precision = {v["precision"]: v for v in report["variants"]}
    assert by_precision["fp32"]["max_abs"] <= 1e-4 and by_precision["fp32"]["agreement"] == 1.0
    assert by_precision["fp16"]["agreement"] >= 0.995
    assert by_precision["int8"]["agreement"] >= 0.98
    assert by_precision["int8"]["accuracy_drop"] <= 0.01
    for v in report["variants"]:
        assert v["passed"] and v["clips"] == 12 and v["size_mb"] > 0
        assert 0.0 <= v["accuracy"] <= 1.0 and v["mean_cosine"] > 0.99
    assert [s["name"] for s in report["steps"]][:3] == [
        "load PyTorch model", "decode parity clips", "parity PyTorch"]
    assert all(s["seconds"] >= 0 and s["peak_rss_mb"] > 0 for s in report["steps"])
    md = (out / "parity.md").read_text()
    assert "**PASS**" in md and "| model.int8.onnx | int8 |" in md


def test_the_bundle_runs_in_the_videoedge_runtime_like_pytorch(bundle, trained_micro,
                                                               small_dataset):
    import torch

    from videoedge.export.model_dir import load_model
    from videoedge.runtime import Classifier
    from videoedge.runtime.preprocess import softmax
    from videoedge.runtime.video import clips_at

    out, _ = bundle
    video = sorted((small_dataset / "test").glob("*/*"))[0]
    clf = Classifier(out, device="cpu")
    clip = clips_at(video, clf.contract, [0.0])[0].pixel_values[None]
    with torch.no_grad():
        expected = load_model(trained_micro)(pixel_values=torch.from_numpy(clip)).logits.numpy()
    probs = clf.predict(clip)  # the runtime returns probabilities
    np.testing.assert_allclose(probs, softmax(expected.astype(np.float64)), atol=1e-5)
    assert clf.contract.labels == Contract.load(trained_micro).labels


def _readme_snippet() -> str:
    text = README.read_text()
    match = re.search(r"<!-- raw-onnxruntime-example -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "export/README.md lost its raw-onnxruntime example"
    return match.group(1)


def test_readme_raw_onnxruntime_example_runs_as_written(bundle, small_dataset):
    """The README's snippet, unchanged, in a bare interpreter: same label and score as the
    videoedge runtime on the same first clip."""
    import onnxruntime as ort

    from videoedge.runtime.preprocess import softmax
    from videoedge.runtime.video import clips_at

    out, _ = bundle
    snippet = _readme_snippet()
    assert "import videoedge" not in snippet and "from videoedge" not in snippet
    c = Contract.load(out)
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    for video in sorted((small_dataset / "test").glob("*/*"))[:2]:
        proc = subprocess.run([sys.executable, "-c", snippet, str(out), str(video)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        label, score = proc.stdout.split()
        clip = clips_at(video, c, [0.0])[0].pixel_values[None]
        probs = softmax(session.run(None, {"pixel_values": clip})[0][0])
        assert label == c.labels[int(probs.argmax())]
        assert float(score) == pytest.approx(float(probs.max()), abs=1e-4)


# -- failures -----------------------------------------------------------------------------
def test_a_variant_over_its_limit_fails_naming_every_figure_and_leaves_the_old_bundle(
        bundle, trained_micro, tmp_path):
    import shutil

    old, _ = bundle
    out = tmp_path / "bundle"
    shutil.copytree(old, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    impossible = ParityLimits(max_abs=1e-12)
    limits = {"fp32": ParityLimits(max_abs=1e-4, min_agreement=1.0), "fp16": impossible,
              "int8": ParityLimits(max_abs=1e-12, min_agreement=0.98)}
    with pytest.raises(ParityError) as err:
        export_bundle(ExportConfig(model=trained_micro, out=out, fp16=True, int8="dynamic",
                                   limits=limits))
    message = str(err.value)
    assert "\n" not in message
    assert "model.fp16.onnx (fp16): max abs logit diff" in message
    assert "model.int8.onnx (int8): max abs logit diff" in message  # all failures, not the first
    assert "model.onnx (fp32)" not in message
    assert err.value.exit_code == 1
    # the old bundle is untouched, byte for byte; no temp dirs are left
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    failed = tmp_path / "bundle.parity-failed"
    report = json.loads((failed / "parity.json").read_text())
    assert report["passed"] is False and len(report["failures"]) == 2
    assert [v["passed"] for v in report["variants"]] == [True, False, False]
    assert sorted(p.name for p in failed.iterdir()) == ["parity.json", "parity.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "bundle.parity-failed"]


def test_static_int8_via_the_cli_is_calibrated_on_training_clips(trained_micro, small_dataset,
                                                                  tmp_path):
    import onnx

    from helpers import run_cli

    out = tmp_path / "bundle"
    proc = run_cli("export", trained_micro, "--out", out, "--int8", "static", "--calib",
                   small_dataset, "--calib-clips", "6", "--data", small_dataset, "--split", "val",
                   "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "model.int8.onnx" in proc.stdout and "int8-static" in proc.stdout
    report = json.loads((out / "parity.json").read_text())
    assert report["calibration"]["clips"] == 6
    assert Path(report["clips"]["split_dir"]) == small_dataset / "val"
    assert report["variants"][1]["precision"] == "int8-static" and report["passed"]
    graph = onnx.load(str(out / "model.int8.onnx")).graph
    assert sum(n.op_type == "QuantizeLinear" for n in graph.node) >= 4  # QDQ, not dynamic
    assert not any(n.op_type == "DynamicQuantizeLinear" for n in graph.node)
    from videoedge.export.onnx import read_contract

    assert read_contract(out / "model.int8.onnx").precision == "int8-static"


def corrupt_int8_scales(monkeypatch):
    """Make the export's int8 step write a broken file: every weight scale negated (a corrupted
    scale), the rest of the graph intact, so it loads and runs and decides differently."""
    import onnx
    from onnx import numpy_helper

    from videoedge.export import quantize

    real = quantize.to_int8_dynamic

    def broken(fp32_path, contract, path):
        real(fp32_path, contract, path)
        model = onnx.load(str(path))
        hit = 0
        for init in model.graph.initializer:
            if init.name.endswith("_scale") and init.data_type == onnx.TensorProto.FLOAT:
                init.CopyFrom(numpy_helper.from_array(-3.0 * numpy_helper.to_array(init),
                                                      init.name))
                hit += 1
        assert hit, "no weight scales found to corrupt"
        onnx.save(model, str(path))
        return path

    monkeypatch.setattr(quantize, "to_int8_dynamic", broken)


def test_a_broken_int8_file_is_refused_under_the_default_limits(bundle, trained_micro, tmp_path,
                                                                 monkeypatch, capsys):
    """The signature promise, under the limits users get: exit 1, the broken variant nowhere,
    an existing bundle byte for byte as it was, no bundle made where there was none."""
    import shutil

    from videoedge.runtime.cli import main

    corrupt_int8_scales(monkeypatch)
    old, _ = bundle
    kept = tmp_path / "kept"
    shutil.copytree(old, kept)
    before = {p.name: p.read_bytes() for p in kept.iterdir()}
    fresh = tmp_path / "fresh"
    for out in (kept, fresh):
        rc = main(["export", str(trained_micro), "--out", str(out), "--int8", "dynamic",
                   "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 1 and len(err) == 1, err
        assert "model.int8.onnx (int8): top-1 agreement" in err[0]
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == before
    assert not fresh.exists()
    report = json.loads((tmp_path / "fresh.parity-failed" / "parity.json").read_text())
    assert [v["passed"] for v in report["variants"]] == [True, False]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.parity-failed", "kept",
                                                          "kept.parity-failed"]
