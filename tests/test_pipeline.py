"""`transformers.pipeline("video-classification")` on a videoedge model directory."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")
pytest.importorskip("av")

from helpers import write_video
from videoedge.runtime.contract import Contract
from videoedge.train.pipeline import classify, sampling_kwargs, video_pipeline


def test_sampling_kwargs_follow_the_contract_at_the_files_fps():
    c = Contract(labels=["a", "b"], num_frames=16, frame_stride=4)
    assert sampling_kwargs(c) == {"num_frames": 16, "frame_sampling_rate": 4}
    assert sampling_kwargs(c, fps=60) == {"num_frames": 16, "frame_sampling_rate": 8}
    assert sampling_kwargs(c, fps=15) == {"num_frames": 16, "frame_sampling_rate": 2}


def test_pipeline_reproduces_the_models_first_clip(micro_model_dir, small_dataset, tmp_path):
    """The pipeline (PyAV + image processor, first window) gives the scores our model gives on
    the contract's first clip, up to the resize implementation (PIL vs OpenCV)."""
    import torch
    from transformers import VideoMAEForVideoClassification

    from videoedge.runtime.preprocess import softmax
    from videoedge.runtime.video import clips_at, probe_duration

    contract = Contract.load(micro_model_dir)
    pipe = video_pipeline(micro_model_dir)
    model = VideoMAEForVideoClassification.from_pretrained(str(micro_model_dir)).eval()
    videos = sorted((small_dataset / "test").glob("*/*.avi"))[:3]
    videos.append(write_video(tmp_path / "flat30.avi", frames=90, fps=30.0, fourcc="MJPG"))
    for video in videos:
        out = classify(pipe, video, contract, top_k=3)
        assert {o["label"] for o in out} == set(contract.labels)
        clip = clips_at(video, contract, [0.0])[0].pixel_values
        with torch.inference_mode():
            ours = softmax(model(pixel_values=torch.from_numpy(clip[None])).logits.numpy()[0])
        theirs = {o["label"]: o["score"] for o in out}
        diff = max(abs(theirs[label] - ours[i]) for i, label in enumerate(contract.labels))
        assert diff < 0.003, (video.name, diff)
        end = clips_at(video, contract, [probe_duration(video) - contract.clip_seconds])[0]
        with torch.inference_mode():
            other = softmax(model(pixel_values=torch.from_numpy(end.pixel_values[None])).logits.numpy()[0])
        assert diff < max(abs(theirs[label] - other[i]) for i, label in enumerate(contract.labels))
