"""`videoedge evaluate` / `evaluate_model`: single view as the runtime decodes, multi-view."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("transformers")

from videoedge.runtime.cli import main
from videoedge.runtime.contract import Contract
from videoedge.runtime.errors import DataError
from videoedge.train.evaluate import crop_offsets, evaluate_model, video_views


def test_single_view_is_the_centred_clip(trained_micro, small_dataset):
    """Each video's prediction is the model's on its centred clip, the clip made here without
    videoedge code (PyAV + PyTorchVideo), and the model's logits are far from ties on it."""
    import torch
    from transformers import VideoMAEForVideoClassification

    from helpers import reference_clip

    result = evaluate_model(trained_micro, small_dataset, "test")
    contract = Contract.load(trained_micro)
    model = VideoMAEForVideoClassification.from_pretrained(str(trained_micro)).eval()
    assert result.videos == 6 and not result.skipped
    assert np.array(result.confusion).sum() == 6
    # 3 classes: a top-5 would be 100% whatever the model does, so there is none
    assert result.top5 is None and "top-5" not in result.summary()
    correct = 0
    for p in result.predictions:
        clip = reference_clip(p["path"], contract)
        with torch.inference_mode():
            logits = model(pixel_values=torch.from_numpy(clip[None])).logits[0].numpy()
        top2 = np.sort(logits)[-2:]
        assert top2[1] - top2[0] > 0.05, f"near tie on {p['path']}: not a test of agreement"
        assert contract.labels[int(logits.argmax())] == p["predicted"]
        correct += p["predicted"] == p["label"]
    assert result.top1 == pytest.approx(correct / 6)
    assert sum(c["videos"] for c in result.per_class.values()) == 6


def test_three_crops_are_start_centre_end_and_the_centre_one_is_the_single_view(
        micro_model_dir, small_dataset):
    assert crop_offsets(40, 53, 32, 32, 3) == [(4, 0), (4, 10), (4, 21)]
    assert crop_offsets(53, 40, 32, 32, 3) == [(0, 4), (10, 4), (21, 4)]
    contract = Contract.load(micro_model_dir)
    video = min((small_dataset / "test").glob("*/*"))
    three = video_views(video, contract, clips=2, crops=3)
    one = video_views(video, contract, clips=2, crops=1)
    assert three.shape == (6, contract.num_frames, 3, contract.height, contract.width)
    np.testing.assert_allclose(three[1], one[0], atol=1e-6)
    np.testing.assert_allclose(three[4], one[1], atol=1e-6)
    assert np.abs(three[0] - three[2]).max() > 0.1  # different places in the frame


def test_cli_writes_json_and_confusion_png_and_exit_1_on_a_bad_file(micro_model_dir,
                                                                    small_dataset, tmp_path,
                                                                    capsys):
    data = shutil.copytree(small_dataset, tmp_path / "d")
    rc = main(["evaluate", str(micro_model_dir), str(data), "--clips", "2", "--crops", "3",
               "--json", str(tmp_path / "e.json"), "--quiet"])
    assert rc == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert (result["clips"], result["crops"], result["videos"]) == (2, 3, 6)
    assert set(result) >= {"top1", "top5", "per_class", "confusion", "predictions"}
    assert (tmp_path / "e.confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "top-1" in capsys.readouterr().out
    (data / "test" / "Growing" / "v_Growing_g99_c01.avi").write_bytes(b"junk")
    rc = main(["evaluate", str(micro_model_dir), str(data), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "v_Growing_g99_c01.avi" in err


def test_unknown_class_in_the_split_is_a_data_error(micro_model_dir, small_dataset, tmp_path):
    data = shutil.copytree(small_dataset, tmp_path / "d")
    shutil.copytree(data / "test" / "Growing", data / "test" / "Juggling")
    with pytest.raises(DataError, match="Juggling"):
        evaluate_model(micro_model_dir, data, "test")
