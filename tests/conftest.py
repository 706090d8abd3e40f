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
