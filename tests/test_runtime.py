"""The runtime, as a user deploys it: bundles made here, videos made here, no export stage."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import run_cli
from test_runtime_fixtures import (
    BLUE,
    GREEN,
    LABELS,
    RED,
    colour_video,
    make_bundle,
    read_jsonl,
    tiny_contract,
)
from videoedge.runtime import ContractError, UsageError
from videoedge.runtime.classifier import Classifier
from videoedge.runtime.preprocess import uniform_clip_starts
from videoedge.runtime.session import DeviceError, SessionConfig
from videoedge.runtime.video import clips_at, probe_duration


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("bundle") / "b", fp16_copy=True)


@pytest.fixture(scope="module")
def rgb_video(tmp_path_factory):
    """1.5 s red, then green, then blue: 4.5 s."""
    return colour_video(tmp_path_factory.mktemp("v") / "rgb.avi", [RED, GREEN, BLUE],
                        seconds_each=1.5)


@pytest.fixture(scope="module")
def clf(bundle):
    return Classifier(bundle, device="cpu")


# -- files -----------------------------------------------------------------------------------
def test_a_file_gets_a_timeline_across_the_whole_video_and_a_file_level_top_k(clf, rgb_video):
    r = clf.classify_file(rgb_video, hop_seconds=0.5, top_k=2)
    assert r.duration == pytest.approx(4.5, abs=0.05)
    assert r.clips[0].start == 0 and r.clips[-1].end == pytest.approx(4.5, abs=0.05)
    assert all(b.start - a.start <= 0.5 + 1e-6 for a, b in zip(r.clips, r.clips[1:]))
    labels = [c.label for c in r.clips]
    assert labels[0] == "red" and labels[-1] == "blue" and "green" in labels
    # colours appear in order on the timeline
    firsts = [labels.index(x) for x in ("red", "green", "blue")]
    assert firsts == sorted(firsts)
    np.testing.assert_allclose(r.probs, np.mean([c.probs for c in r.clips], axis=0))
    assert len(r.top) == 2 and r.top[0][1] >= r.top[1][1]
    for c in r.clips:  # every result carries per-stage timings and capture-to-label latency
        t = c.timings
        assert t.decode_ms >= 0 and t.preprocess_ms > 0 and t.infer_ms > 0 and c.latency_ms >= 0
    d = r.to_dict()
    assert d["type"] == "file" and len(d["clips"]) == len(r.clips)
    json.dumps(d)


def test_a_video_shorter_than_one_clip_is_classified_and_says_how(clf, tmp_path):
    video = colour_video(tmp_path / "short.avi", [GREEN], seconds_each=0.2)  # 6 frames < 1.07 s
    r = clf.classify_file(video)
    assert r.label == "green" and len(r.clips) == 1 and r.clips[0].frames == 6
    assert "shorter than one clip" in r.note and "6 frames" in r.note


def test_clips_n_samples_exactly_like_evaluate(clf, rgb_video):
    """`--clips N` = clips_at(uniform_clip_starts(duration, clip_seconds, N)), the evaluation
    protocol, so top-1 agreement is compared like with like."""
    for n in (1, 3):
        r = clf.classify_file(rgb_video, clips=n)
        starts = uniform_clip_starts(probe_duration(rgb_video), clf.contract.clip_seconds, n)
        clips = clips_at(rgb_video, clf.contract, starts)
        expected = clf.predict(np.stack([c.pixel_values for c in clips]))
        assert [c.start for c in r.clips] == pytest.approx(starts)
        np.testing.assert_allclose([c.probs for c in r.clips], expected, atol=1e-6)
    assert clf.classify_file(rgb_video, clips=1).label == "green"  # one centred clip


def test_batches_go_on_past_bad_files(clf, rgb_video, tmp_path):
    bad = tmp_path / "not_a_video.mp4"
    bad.write_text("hello")
    got = dict(clf.classify_files([rgb_video, bad, rgb_video]))
    assert isinstance(got[str(bad)], Exception) and "cannot be opened" in str(got[str(bad)])
    assert got[str(rgb_video)].label in LABELS


# -- bundles ---------------------------------------------------------------------------------
def test_precision_picks_the_bundle_file_and_the_contract_comes_from_its_metadata(bundle):
    assert Classifier(bundle, device="cpu").contract.precision == "fp32"
    fp16 = Classifier(bundle, device="cpu", precision="fp16")
    assert fp16.file.path.name == "model.fp16.onnx" and fp16.contract.precision == "fp16"
    with pytest.raises(UsageError, match="no model.int8.onnx"):
        Classifier(bundle, device="cpu", precision="int8")


def test_labels_that_do_not_match_the_logits_are_refused(tmp_path):
    with pytest.raises(ContractError, match="outputs 4 logits but the contract has 3 labels"):
        Classifier(make_bundle(tmp_path / "a", num_logits=4), device="cpu")


def test_missing_or_inconsistent_metadata_is_one_clear_error(tmp_path):
    bare = make_bundle(tmp_path / "bare", metadata=False)
    assert Classifier(bare, device="cpu").contract.labels == LABELS  # videoedge.json suffices
    (bare / "videoedge.json").unlink()
    with pytest.raises(ContractError, match="carries no 'videoedge' metadata"):
        Classifier(bare, device="cpu")
    mixed = make_bundle(tmp_path / "mixed")
    (mixed / "videoedge.json").write_text(tiny_contract(num_frames=8).to_json())
    with pytest.raises(ContractError, match="disagree on num_frames"):
        Classifier(mixed, device="cpu")
    wrong = make_bundle(tmp_path / "wrong", contract=tiny_contract(height=32, width=32,
                                                                   resize_short_side=32))
    (wrong / "videoedge.json").unlink()
    import onnx

    m = onnx.load(wrong / "model.onnx")  # the graph says 32x32; make the metadata say 16x16
    m.metadata_props[0].value = tiny_contract().to_json()
    onnx.save(m, wrong / "model.onnx")
    with pytest.raises(ContractError, match="input H is 32 but the contract says 16"):
        Classifier(wrong, device="cpu")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.onnx").write_bytes(b"\x08\x01garbage")
    with pytest.raises(ContractError, match="ONNX Runtime cannot load it"):
        Classifier(tmp_path / "broken", device="cpu")


# -- devices ---------------------------------------------------------------------------------
def test_auto_reports_the_provider_it_really_got_in_one_line(bundle):
    import onnxruntime as ort

    lines = []
    clf = Classifier(bundle, device="auto", notify=lines.append)
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert clf.device == "CPU"
        assert len(lines) == 1 and "running on CPU" in lines[0] and "onnxruntime-gpu" in lines[0]


def test_a_gpu_provider_that_fails_to_start_is_reported_from_what_the_session_got(
        bundle, monkeypatch):
    """ORT falls back silently when CUDA cannot start: the runtime reads back the providers
    the session really holds (here a fake session that got only the CPU) and says so."""
    import onnxruntime as ort

    from videoedge.runtime import session as S
    from videoedge.runtime.session import DeviceError

    real = ort.InferenceSession
    asked = {}

    def fake_session(path, sess_options=None, providers=None):
        asked["providers"] = [p if isinstance(p, str) else p[0] for p in providers]
        return real(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(S, "available_providers",
                        lambda: [S.TRT, S.CUDA, "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", fake_session)
    monkeypatch.setattr(S.os, "makedirs", lambda *a, **k: None)  # the TRT engine cache
    lines = []
    clf = Classifier(bundle, device="auto", notify=lines.append)
    assert asked["providers"] == [S.TRT, S.CUDA, "CPUExecutionProvider"]
    assert clf.device == "CPU" and clf.session.providers == ["CPUExecutionProvider"]
    assert len(lines) == 1 and "running on CPU" in lines[0] and "failed to start" in lines[0]
    with pytest.raises(DeviceError, match="could not start CUDA"):
        Classifier(bundle, device="cuda", notify=lines.append)


def test_an_explicit_gpu_device_that_cannot_be_honoured_is_exit_2(bundle, rgb_video):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceError, match="no CUDA provider"):
        Classifier(bundle, device="cuda")
    proc = run_cli("run", bundle, rgb_video, "--device", "cuda", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("videoedge: error: --device cuda")
    with pytest.raises(UsageError, match="choose one of"):
        SessionConfig(device="gpu")


def test_io_binding_gives_the_same_scores(bundle, rgb_video):
    plain = Classifier(bundle, device="cpu")
    bound = Classifier(bundle, session_config=SessionConfig(device="cpu", io_binding=True))
    assert bound.session.io_binding and not plain.session.io_binding
    x = np.random.default_rng(0).normal(size=plain.contract.input_shape(3)).astype(np.float32)
    np.testing.assert_allclose(bound.predict(x), plain.predict(x), atol=1e-6)


# -- torch-free ------------------------------------------------------------------------------
def test_torch_is_never_imported_by_the_runtime_even_while_classifying(bundle, rgb_video):
    code = f"""
import sys, videoedge.runtime
from videoedge.runtime.classifier import Classifier
clf = Classifier({str(bundle)!r}, device="cpu")
r = clf.classify_file({str(rgb_video)!r})
run = clf.stream({str(rgb_video)!r}, live=True, max_results=2, speed=4.0)
n = sum(1 for _ in run)
heavy = sorted(m for m in ("torch", "torchvision", "transformers", "onnx") if m in sys.modules)
print(r.label, n, heavy)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    label, n, heavy = proc.stdout.split(maxsplit=2)
    assert label in LABELS and n == "2" and heavy.strip() == "[]"


# -- the command line ------------------------------------------------------------------------
def test_run_on_a_folder_writes_jsonl_and_lists_bad_files(bundle, rgb_video, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    colour_video(folder / "a red one.avi", [RED], seconds_each=1.5)
    colour_video(folder / "blue.avi", [BLUE], seconds_each=0.5)
    (folder / "broken.mp4").write_bytes(b"\x00" * 100)
    (folder / "notes.txt").write_text("not a video, not picked up")
    out = tmp_path / "out.jsonl"
    proc = run_cli("run", bundle, folder, "--device", "cpu", "--json", out, "--top-k", "2",
                   timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "1 of 3 source(s) failed" in proc.stderr and "broken.mp4" in proc.stderr
    records = read_jsonl(out)
    assert records[0]["type"] == "run" and records[0]["device"] == "CPU"
    by_source = {r["source"].rsplit("/", 1)[-1]: r for r in records[1:]}
    assert by_source["a red one.avi"]["label"] == "red"
    assert by_source["blue.avi"]["label"] == "blue" and "shorter" in by_source["blue.avi"]["note"]
    assert by_source["broken.mp4"]["type"] == "error"
    assert len(by_source["blue.avi"]["top"]) == 2


def test_run_show_without_a_gui_says_what_to_install(bundle, rgb_video):
    from videoedge.runtime.overlay import gui_available

    if gui_available():
        pytest.skip("this OpenCV has a GUI")
    proc = run_cli("run", bundle, rgb_video, "--show", timeout=60)
    assert proc.returncode == 2
    assert "pip install opencv-python" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_run_save_writes_an_annotated_video(bundle, rgb_video, tmp_path):
    import cv2

    out = tmp_path / "annotated.avi"
    proc = run_cli("run", bundle, rgb_video, "--device", "cpu", "--save", out, "--quiet",
                   timeout=60)
    assert proc.returncode == 0, proc.stderr
    cap = cv2.VideoCapture(str(out))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 135  # every frame of the 4.5 s source
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary left behind


def test_typos_in_sources_stop_before_any_work(bundle, tmp_path):
    proc = run_cli("run", bundle, tmp_path / "nope.mp4", timeout=60)
    assert proc.returncode == 2 and "no such file" in proc.stderr
    proc = run_cli("run", tmp_path / "nobundle", bundle / "model.onnx", timeout=60)
    assert proc.returncode == 2 and "no such bundle" in proc.stderr
