"""Across stages: the runtime preprocesses like the training stage's eval transform, and
`videoedge run --clips 1` with the fp32 bundle agrees on top-1 with `videoedge evaluate`
(PyTorch) on every test video."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import run_cli
from test_runtime_fixtures import read_jsonl

pytest.importorskip("torch")
pytest.importorskip("onnx")


def export_bundle(model_dir, data, out):
    """The export stage's fp32 bundle (with its own parity check on `data`)."""
    from videoedge.export.bundle import export_bundle as export
    from videoedge.export.config import ExportConfig

    export(ExportConfig(model=model_dir, out=out, data=data))
    return out


def test_runtime_preprocessing_matches_the_training_eval_transform(small_dataset):
    import torch

    from videoedge.runtime.contract import Contract
    from videoedge.runtime.preprocess import preprocess_clip
    from videoedge.runtime.video import iter_frames
    from videoedge.train.data import EvalTransform, pytorchvideo_transforms

    contract = Contract(labels=["a", "b"], num_frames=8, frame_stride=4, height=32, width=32,
                        resize_short_side=40)
    video = next(p for p in sorted((small_dataset / "test").rglob("*")) if p.is_file())
    frames = np.stack([f for _, f in iter_frames(video)][:32])  # (T, H, W, 3) the same frames
    ours = preprocess_clip(frames, contract)
    sample = {"video": torch.from_numpy(frames).permute(3, 0, 1, 2).float(), "label": 0,
              "video_name": video.name}
    theirs = EvalTransform(contract)(sample)["pixel_values"].numpy()
    assert np.abs(ours - theirs).max() == 0.0
    # and the guide's PyTorchVideo chain (subsample, /255, normalise, short side, centre crop)
    from torchvision.transforms import CenterCrop, Compose, Lambda

    T = pytorchvideo_transforms()
    guide = Compose([T.UniformTemporalSubsample(contract.num_frames),
                     Lambda(lambda x: x / 255.0), T.Normalize(contract.mean, contract.std),
                     T.ShortSideScale(contract.resize_short_side),
                     CenterCrop((contract.height, contract.width))])
    ref = guide(sample["video"]).permute(1, 0, 2, 3).numpy()
    diff = float(np.abs(ours - ref).max())
    print(f"max abs diff runtime vs PyTorchVideo eval chain: {diff:.2e}")
    assert diff < 1e-4


def test_run_agrees_with_evaluate_on_every_test_video(trained_micro, small_dataset, tmp_path):
    """A trained model (logits far from ties), so agreement is a real check."""
    from videoedge.train.evaluate import evaluate_model

    bundle = export_bundle(trained_micro, small_dataset, tmp_path / "bundle")
    ev = evaluate_model(trained_micro, small_dataset, split="test", clips=1)
    out = tmp_path / "run.jsonl"
    proc = run_cli("run", bundle, small_dataset / "test", "--clips", "1", "--device", "cpu",
                   "--precision", "fp32", "--json", out, "--quiet", timeout=300)
    assert proc.returncode == 0, proc.stderr
    ran = {r["source"]: r for r in read_jsonl(out) if r["type"] == "file"}
    assert len(ran) == ev.videos == len(ev.predictions) > 0
    for p in ev.predictions:
        r = ran[p["path"]]
        assert r["label"] == p["predicted"], p["path"]
        assert r["score"] == pytest.approx(p["score"], abs=1e-4)
