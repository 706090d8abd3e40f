"""The contract and its eval transform: one definition, checked against torch's own ops."""

from __future__ import annotations

import numpy as np
import pytest

from videoedge.runtime import Contract, ContractError
from videoedge.runtime.preprocess import (
    center_crop,
    preprocess_clip,
    short_side_size,
    sliding_clip_starts,
    subsample_indices,
    uniform_clip_starts,
    unnormalize,
)

C = Contract(labels=["a", "b"], num_frames=8, frame_stride=8, height=64, width=64,
             resize_short_side=72)


def test_the_guides_clip_is_16_frames_stride_4_at_30fps_213_seconds():
    assert Contract(labels=["x"]).clip_seconds == pytest.approx(2.1333, abs=1e-4)


def test_contract_round_trips_through_json_and_a_directory(tmp_path):
    assert Contract.from_json(C.to_json()) == C
    C.save(tmp_path)
    assert Contract.load(tmp_path) == C
    assert Contract.load(tmp_path / "videoedge.json") == C


@pytest.mark.parametrize("text,msg", [
    ("not json", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"num_frames": 8}', "no labels"),
    ('{"labels": []}', "labels is empty"), ('{"labels": ["a"], "num_frames": 0}', "num_frames"),
    ('{"labels": ["a", "a"]}', "duplicates"), ('{"labels": ["a"], "schema": 99}', "newer"),
    ('{"labels": ["a"], "precision": "fp8"}', "precision"),
    ('__import__("os").system("echo pwned")', "not valid JSON"),
])
def test_malformed_contracts_are_one_clear_error(text, msg):
    with pytest.raises(ContractError, match=msg):
        Contract.from_json(text)


def test_a_directory_without_a_contract_says_how_to_get_one(tmp_path):
    with pytest.raises(ContractError, match="videoedge train"):
        Contract.load(tmp_path)


@pytest.mark.parametrize("available,n", [(64, 8), (63, 8), (8, 8), (3, 8), (1, 8), (100, 16),
                                         (2, 16), (17, 4), (90, 8), (127, 16), (1000, 16)])
def test_subsampling_matches_pytorchvideos_uniform_temporal_subsample(available, n):
    torch = pytest.importorskip("torch")
    pytorchvideo_transforms = pytest.importorskip("videoedge.train.data").pytorchvideo_transforms
    frames = torch.arange(available).view(1, available, 1, 1).float()  # (C, T, H, W)
    expected = pytorchvideo_transforms().UniformTemporalSubsample(n)(frames).flatten().long()
    assert subsample_indices(available, n).tolist() == expected.tolist()


def test_a_short_clip_repeats_frames_as_the_docstring_says():
    assert subsample_indices(3, 8).tolist() == [0, 0, 0, 0, 1, 1, 1, 2]


def test_clip_starts_cover_the_video():
    assert uniform_clip_starts(10.0, 2.0, 5) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert uniform_clip_starts(10.0, 2.0, 1) == [4.0]  # single view: the centred clip
    assert uniform_clip_starts(1.0, 2.0, 3) == [0.0, 0.0, 0.0]  # shorter than a clip
    starts = sliding_clip_starts(5.0, 2.0, 1.5)
    assert starts == [0.0, 1.5, 3.0] and starts[-1] + 2.0 == 5.0
    assert sliding_clip_starts(1.0, 2.0, 1.0) == [0.0]


def test_short_side_scale_follows_pytorchvideo():
    assert short_side_size(120, 160, 64) == (64, 85)
    assert short_side_size(240, 320, 224) == (224, 298)
    assert short_side_size(320, 240, 224) == (298, 224)


def test_eval_transform_matches_torch_interpolate_and_crop():
    """The numpy transform == torch bilinear (align_corners=False, no antialias) + centre crop."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (64, 120, 160, 3), dtype=np.uint8)
    ours = preprocess_clip(frames, C)

    idx = torch.linspace(0, 63, 8).long()
    x = torch.from_numpy(frames).float()[idx].permute(0, 3, 1, 2) / 255.0  # T,C,H,W
    h, w = short_side_size(120, 160, C.resize_short_side)
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=False)
    top, left = (h - 64) // 2, (w - 64) // 2
    x = x[:, :, top:top + 64, left:left + 64]
    mean = torch.tensor(C.mean).view(1, 3, 1, 1)
    std = torch.tensor(C.std).view(1, 3, 1, 1)
    ref = ((x - mean) / std).numpy()
    assert ours.shape == (8, 3, 64, 64) and ours.dtype == np.float32
    assert np.abs(ours - ref).max() < 1e-4


def test_grayscale_frames_become_rgb_and_short_clips_repeat_frames():
    gray = np.full((3, 48, 64), 128, np.uint8)
    clip = preprocess_clip(list(gray), C)
    assert clip.shape == (8, 3, 64, 64)
    assert np.allclose(clip[:, 0], clip[0, 0])


def test_unnormalize_inverts_normalize():
    frames = np.random.default_rng(1).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    c = C.replace(resize_short_side=64)
    assert np.abs(unnormalize(preprocess_clip(frames, c), c).astype(int) - frames).max() <= 1


def test_center_crop_refuses_frames_smaller_than_the_crop():
    with pytest.raises(ValueError):
        center_crop(np.zeros((10, 10, 3)), 64, 64)
