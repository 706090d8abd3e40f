"""The synthetic UCF101-style dataset: layout, groups, decodability, determinism, bad input."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from helpers import run_cli
from videoedge.runtime.errors import UsageError
from videoedge.train.synth import (
    CLASSES,
    TIME_REVERSED_PAIRS,
    SynthConfig,
    plan,
    render,
    synthesize,
)

UCF_NAME = re.compile(r"^v_(?P<cls>[A-Za-z]+)_g(?P<g>\d{2})_c(?P<c>\d{2})\.(avi|mp4)$")


def test_default_plan_matches_the_guides_ucf101_subset():
    specs = plan(SynthConfig())
    counts = Counter(s.split for s in specs)
    assert counts == {"train": 300, "val": 30, "test": 75}
    per_class = Counter((s.split, s.label) for s in specs)
    assert {per_class["train", c] for c in CLASSES} == {30}
    assert {per_class["val", c] for c in CLASSES} == {3}
    assert sorted(per_class["test", c] for c in CLASSES) == [7] * 5 + [8] * 5
    assert {s.fps for s in specs} == {24.0, 25.0, 29.97, 30.0}
    assert {Path(s.path).suffix for s in specs} == {".avi", ".mp4"}
    assert all(2.5 * s.fps - 1 <= s.frames <= 4.0 * s.fps + 1 for s in specs)


def test_no_group_spans_two_splits():
    splits_of_group = {}
    for s in plan(SynthConfig()):
        splits_of_group.setdefault((s.label, s.group), set()).add(s.split)
    assert all(len(v) == 1 for v in splits_of_group.values())
    # and every split holds scenes of every class (a split without a class tests nothing)
    classes = set(SynthConfig().class_names())
    for split in ("train", "val", "test"):
        assert {label for (label, _), where in splits_of_group.items() if split in where} \
            == classes


def test_written_dataset_has_ucf101_layout_and_every_file_decodes_as_written(small_dataset):
    manifest = json.loads((small_dataset / "synth.json").read_text())
    # made with per_class=(4, 1, 2) over 3 classes: the totals say what was made
    assert manifest["config"]["totals"] == [12, 3, 6]
    assert manifest["counts"] == {"train": 12, "val": 3, "test": 6}
    files = sorted(p for p in small_dataset.glob("*/*/*") if p.is_file())
    assert len(files) == len(manifest["videos"]) == 3 * (4 + 1 + 2)
    for video in manifest["videos"]:
        path = small_dataset / video["path"]
        split, cls, name = path.relative_to(small_dataset).parts
        m = UCF_NAME.match(name)
        assert m and m["cls"] == cls == video["label"] and split == video["split"]
        assert int(m["g"]) == video["group"] and int(m["c"]) == video["clip"]
        cap = cv2.VideoCapture(str(path))
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(video["fps"], abs=1e-3)
        n = 0
        while cap.read()[0]:
            n += 1
        assert n == video["frames"]
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert float(stream.average_rate) == pytest.approx(video["fps"], abs=1e-3)
            assert sum(1 for _ in container.decode(stream)) == video["frames"]
            assert (stream.codec_context.width, stream.codec_context.height) == (64, 48)


def _decoded(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            return np.stack(frames)
        frames.append(f)


def test_same_seed_same_frames_different_seed_different_frames(tmp_path):
    cfg = dict(classes=2, per_class=(1, 0, 1), size=(64, 48), max_seconds=2.6, workers=1)
    a = synthesize(tmp_path / "a", SynthConfig(seed=3, **cfg), progress=False)
    synthesize(tmp_path / "b", SynthConfig(seed=3, **cfg), progress=False)
    synthesize(tmp_path / "c", SynthConfig(seed=4, **cfg), progress=False)
    differs = []
    for v in a["videos"]:
        fa = _decoded(tmp_path / "a" / v["path"])
        assert np.array_equal(fa, _decoded(tmp_path / "b" / v["path"]))
        fc = _decoded(next((tmp_path / "c" / v["split"] / v["label"]).iterdir()))
        differs.append(fa.shape != fc.shape or not np.array_equal(fa, fc))
    assert all(differs)


def test_clips_of_a_group_share_a_scene_and_groups_differ():
    cfg = SynthConfig(per_class=(10, 0, 0), size=(64, 48))
    specs = [s for s in plan(cfg) if s.label == "Rising"]
    first = {s.group: render(cfg, s)[0].astype(float) for s in specs if s.clip in (1, 2)}
    same = [render(cfg, s)[0].astype(float) for s in specs if s.group == 1]
    within = np.abs(same[0] - same[1]).mean()
    across = np.abs(first[1] - first[2]).mean()
    assert within < across / 2


def test_every_group_of_every_class_is_its_own_scene():
    """As in UCF101, a group is one recording: test scenes never appear in training."""
    from videoedge.train.synth import _scene

    cfg = SynthConfig(size=(64, 48))
    keys = {(s.label, s.group) for s in plan(cfg)}
    backgrounds = [_scene(cfg, label, group)["background"].tobytes() for label, group in keys]
    assert len(set(backgrounds)) == len(keys)


@pytest.mark.parametrize("forward,backward", TIME_REVERSED_PAIRS)
def test_time_reversed_pairs_differ_only_in_order(forward, backward, monkeypatch):
    """Backward is forward played in reverse: frame k of one is frame n-1-k of the other, so a
    single frame cannot tell the two classes apart; only the order of frames can."""
    import videoedge.train.synth as synth

    real_scene = synth._scene
    monkeypatch.setattr(synth, "_scene", lambda cfg, label, group: {  # one scene for both
        **real_scene(cfg, "any", group), "noise": 0.0, "shake": 0.0})
    cfg = SynthConfig(size=(64, 48))
    spec = next(s for s in plan(cfg) if s.label == forward)
    f = render(cfg, spec).astype(float)
    b = render(cfg, type(spec)(**{**spec.__dict__, "label": backward})).astype(float)
    mirrored = np.abs(f - b[::-1]).mean()  # only the small distractor differs
    aligned = np.abs(f - b).mean()
    assert mirrored < aligned / 3


def test_every_class_is_flip_invariant_in_the_manifest(small_dataset):
    manifest = json.loads((small_dataset / "synth.json").read_text())
    assert manifest["flip_invariant"] == manifest["classes"]


@pytest.mark.parametrize("kwargs", [dict(classes=1), dict(classes=11), dict(per_class=(0, 1, 1)),
                                    dict(per_class=(-1, 1, 1)), dict(totals=(5, 1, 1)),
                                    dict(size=(7, 7)), dict(min_seconds=5, max_seconds=2)])
def test_nonsense_counts_and_sizes_are_refused(kwargs):
    with pytest.raises(UsageError):
        SynthConfig(**kwargs)


def test_cli_refuses_nonsense_with_one_line_and_writes_nothing(tmp_path):
    for args in (["--classes", "0"], ["--per-class", "3,x,1"], ["--size", "big"]):
        out = run_cli("data", "synth", tmp_path / "d", *args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
        assert not (tmp_path / "d").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    out = run_cli("data", "synth", ro / "d")
    assert out.returncode == 2 and "not writable" in out.stderr


def test_unwritable_out_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    out = run_cli("data", "synth", tmp_path / "file" / "d")
    assert out.returncode == 2 and "not writable" in out.stderr
    assert (tmp_path / "file").read_text() == "x"


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    import videoedge.train.synth as synth

    calls = []

    def failing(job):
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(job)

    real = synth._render_and_write
    monkeypatch.setattr(synth, "_render_and_write", failing)
    with pytest.raises(KeyboardInterrupt):
        synthesize(tmp_path / "d", SynthConfig(classes=2, per_class=(2, 1, 1), size=(64, 48),
                                                workers=1), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_empty_out_is_used(tmp_path):
    (tmp_path / "d").mkdir()
    synthesize(tmp_path / "d", SynthConfig(classes=2, per_class=(1, 0, 0), size=(64, 48)),
               progress=False)
    assert (tmp_path / "d" / "synth.json").is_file()
