"""The real-checkpoint path without a network: a local directory holding a VideoMAE-base-sized
model (random weights, `base` preset) fine-tunes with a new head for one step."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("transformers")
pytest.importorskip("pytorchvideo")


@pytest.mark.slow
def test_local_base_sized_checkpoint_trains_one_step(small_dataset, tmp_path):
    from transformers import AutoConfig

    from videoedge.runtime.contract import Contract
    from videoedge.train.finetune import TrainConfig, fine_tune
    from videoedge.train.presets import new_model

    # a "downloaded checkpoint": save_pretrained only, Kinetics-400-sized head, no videoedge.json
    ckpt = tmp_path / "videomae-base-local"
    new_model("base", [f"k{i}" for i in range(400)]).save_pretrained(ckpt)
    result = fine_tune(TrainConfig(data=str(small_dataset), out=str(tmp_path / "run"),
                                   model=str(ckpt), max_steps=1, batch_size=1, num_workers=0,
                                   evaluate_test=False, progress=False))
    m = result.metrics
    assert m["source"] == "local" and m["steps"] == 1
    assert m["recipe"]["learning_rate"] == 5e-5  # the guide's value for a checkpoint
    config = AutoConfig.from_pretrained(tmp_path / "run" / "model")
    assert config.num_labels == 3 and config.hidden_size == 768 and config.num_hidden_layers == 12
    contract = Contract.load(tmp_path / "run" / "model")
    assert (contract.num_frames, contract.frame_stride, contract.height) == (16, 4, 224)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["val_accuracy"] is not None
