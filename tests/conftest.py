"""Shared fixtures: a small synthetic dataset and a micro VideoMAE model directory, made once
per test session in a temporary folder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """3 classes x (4 train, 1 val, 2 test) videos at 64x48, from the real generator."""
    from videoedge.train.synth import SynthConfig, synthesize

    root = tmp_path_factory.mktemp("data") / "synth"
    synthesize(root, SynthConfig(classes=3, per_class=(4, 1, 2), size=(64, 48),
                                 min_seconds=2.5, max_seconds=3.0), progress=False)
    return root


@pytest.fixture(scope="session")
def micro_model_dir(tmp_path_factory, small_dataset):
    """A randomly initialised `micro` VideoMAE saved as a videoedge model directory."""
    pytest.importorskip("transformers")
    from videoedge.train.presets import PRESETS, new_model, save_model_dir
    from videoedge.train.synth import CLASSES

    labels = sorted(list(CLASSES)[:3])
    model = new_model("micro", labels)
    return save_model_dir(model, PRESETS["micro"].contract(labels),
                          tmp_path_factory.mktemp("models") / "micro")


@pytest.fixture(scope="session")
def trained_micro(small_dataset, tmp_path_factory):
    """RUN/model (micro preset, trained ~2 s on the train split) and RUN/metrics.json naming
    the dataset, as `videoedge train` writes them. Its logits are far from ties on the test
    clips, so tests comparing two decoders or two runtimes by top-1 can fail only for real."""
    import json

    import numpy as np
    import torch

    pytest.importorskip("onnx")
    from videoedge.export import clips as C
    from videoedge.train.presets import PRESETS, new_model, save_model_dir

    labels = sorted(p.name for p in (small_dataset / "train").iterdir() if p.is_dir())
    contract = PRESETS["micro"].contract(labels)
    xs, ys = [], []
    for video in C.list_videos(small_dataset / "train", contract, flag="train"):
        for clip in C.clips_of_video(video, contract, 4):
            xs.append(clip.pixel_values)
            ys.append(video.label)
    x, y = torch.from_numpy(np.stack(xs)), torch.tensor(ys)
    torch.manual_seed(0)
    model = new_model("micro", labels, seed=0).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        idx = torch.randperm(len(x))[:16]
        loss = torch.nn.functional.cross_entropy(model(pixel_values=x[idx]).logits, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    run = tmp_path_factory.mktemp("run")
    save_model_dir(model, contract, run / "model")
    (run / "metrics.json").write_text(json.dumps({"model": "micro", "data": str(small_dataset)}))
    return run / "model"
