"""Dataset scanning, transforms and batching of the training stage."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("pytorchvideo")

from helpers import write_video
from videoedge.runtime.errors import DataError
from videoedge.train import data as D
from videoedge.train.presets import PRESETS

CLIP_S = PRESETS["micro"].contract(["a", "b"]).clip_seconds


def test_labels_are_the_sorted_class_folders(small_dataset):
    labels = D.class_folders(small_dataset)
    assert labels == sorted(labels) and len(labels) == 3
    split = D.scan_split(small_dataset, "train", labels, CLIP_S)
    assert split.num_videos == 12 and not split.skipped
    assert sorted({v.label for v in split.videos}) == [0, 1, 2]
    assert all(labels[v.label] in v.path for v in split.videos)


def test_corrupt_non_video_and_short_files_are_skipped_and_reported(small_dataset, tmp_path):
    data = shutil.copytree(small_dataset, tmp_path / "d")
    folder = data / "train" / D.class_folders(data)[0]
    (folder / "v_X_g09_c01.avi").write_bytes(b"\x00garbage" * 100)
    (folder / "notes.txt").write_text("not a video")
    write_video(folder / "v_X_g09_c02.avi", frames=15, fps=30.0)  # 0.5 s < one clip
    split = D.scan_split(data, "train", D.class_folders(data), CLIP_S)
    assert split.num_videos == 12
    reasons = {p.split("/")[-1]: why for p, why in split.skipped}
    assert set(reasons) == {"v_X_g09_c01.avi", "notes.txt", "v_X_g09_c02.avi"}
    assert "cannot be decoded" in reasons["v_X_g09_c01.avi"]
    assert "not a video" in reasons["notes.txt"]
    assert "shorter than one clip" in reasons["v_X_g09_c02.avi"]
    assert len(split.report()) == 3


@pytest.mark.parametrize("case", ["missing", "empty", "no_train", "empty_class", "one_class"])
def test_bad_dataset_folders_raise_one_clear_error(small_dataset, tmp_path, case):
    data = tmp_path / "d"
    if case == "empty":
        data.mkdir()
    elif case == "no_train":
        (data / "val" / "A").mkdir(parents=True)
    elif case in ("empty_class", "one_class"):
        shutil.copytree(small_dataset, data)
        for f in (data / "train" / "Growing").iterdir():
            f.unlink()
        if case == "one_class":
            for c in ("FadingIn", "Growing"):
                shutil.rmtree(data / "train" / c)
    with pytest.raises(DataError) as err:
        labels = D.class_folders(data)
        D.scan_split(data, "train", labels, CLIP_S)
    message = str(err.value)
    assert "\n" not in message
    expected = {"missing": "does not exist", "empty": "no train/", "no_train": "no train/",
                "empty_class": "Growing has no videos", "one_class": "at least 2"}[case]
    assert expected in message


def test_group_in_two_splits_is_listed(small_dataset, tmp_path):
    data = shutil.copytree(small_dataset, tmp_path / "d")
    assert D.group_leaks(data) == []  # the generator never splits a group
    src = min((data / "train" / "Growing").iterdir())
    shutil.copy(src, data / "test" / "Growing" / src.name.replace("_c01", "_c99"))
    leaks = D.group_leaks(data)
    group = src.name.split("_")[2]
    assert leaks == [f"Growing {group}: train, test"]


def test_eval_clip_inside_trainer_is_the_runtime_clip(small_dataset):
    """Validation (PyTorchVideo + PyAV) sees the same centred clip, preprocessed by the same
    function, as `videoedge evaluate` / the runtime (OpenCV)."""
    from videoedge.runtime.preprocess import uniform_clip_starts
    from videoedge.runtime.video import clips_at, probe_duration

    labels = D.class_folders(small_dataset)
    contract = PRESETS["micro"].contract(labels)
    split = D.scan_split(small_dataset, "val", labels, contract.clip_seconds)
    for video, sample in zip(split.videos, D.video_dataset(split, contract, train=False)):
        start = uniform_clip_starts(probe_duration(video.path), contract.clip_seconds, 1)
        runtime = clips_at(video.path, contract, start)[0].pixel_values
        assert sample["pixel_values"].shape == runtime.shape
        np.testing.assert_allclose(sample["pixel_values"].numpy(), runtime, atol=1e-5)


def test_train_transform_has_the_guides_steps_and_flip_can_be_turned_off():
    from torchvision.transforms import RandomHorizontalFlip

    contract = PRESETS["micro"].contract(["a", "b"])
    names = [type(t).__name__ for t in D.train_video_transforms(contract)]
    assert names == ["UniformTemporalSubsample", "Lambda", "Normalize", "RandomShortSideScale",
                     "RandomCrop", "RandomHorizontalFlip"]
    assert not any(isinstance(t, RandomHorizontalFlip)
                   for t in D.train_video_transforms(contract, flip=False))


@pytest.mark.parametrize("workers, repeats", [(0, 1), (2, 1), (2, 3)])
def test_batches_per_epoch_matches_the_dataloader(small_dataset, workers, repeats):
    """max_steps is computed from num_videos: it must equal what one pass really yields."""
    import torch

    labels = D.class_folders(small_dataset)
    contract = PRESETS["micro"].contract(labels)
    split = D.scan_split(small_dataset, "train", labels, contract.clip_seconds)
    dataset = D.video_dataset(split, contract, train=True, repeats=repeats)
    loader = torch.utils.data.DataLoader(dataset, batch_size=5, num_workers=workers,
                                         collate_fn=D.collate)
    batches = list(loader)
    assert len(batches) == D.batches_per_epoch(split.num_videos, 5, workers, repeats)
    assert sum(len(b["labels"]) for b in batches) == 12 * repeats
    assert batches[0]["pixel_values"].shape == (5, contract.num_frames, 3, 32, 32)
    assert batches[0]["labels"].dtype == torch.int64


def test_repeats_give_each_decoded_clip_several_augmentations(small_dataset):
    """VideoMAE's repeated augmentation: the same clip (same video, same frames) `repeats`
    times in a row, each with its own crop, scale and flip."""
    import torch

    labels = D.class_folders(small_dataset)
    contract = PRESETS["micro"].contract(labels)
    split = D.scan_split(small_dataset, "train", labels, contract.clip_seconds)
    split.videos = split.videos[:3]
    torch.manual_seed(0)
    samples = list(D.video_dataset(split, contract, train=True, repeats=3))
    names = [s["video_name"] for s in samples]
    assert len(samples) == 9 and all(len(set(names[i:i + 3])) == 1 for i in (0, 3, 6))
    assert len(set(names)) == 3  # every video once per pass
    first = [s["pixel_values"] for s in samples[:3]]
    assert not torch.equal(first[0], first[1]) or not torch.equal(first[1], first[2])


def test_color_jitter_changes_a_clip_as_a_whole_and_keeps_its_range():
    import torch

    torch.manual_seed(0)
    # (C, T, H, W) in 0..1, every frame the same picture
    clip = (torch.rand(3, 1, 8, 8) * 0.5 + 0.25).expand(3, 4, 8, 8).contiguous()
    jitter = D.ClipColorJitter(strength=0.4, shuffle=1.0, gray=0.0)
    out = jitter(clip)
    assert out.shape == clip.shape and 0 <= out.min() and out.max() <= 1
    assert not torch.allclose(out, clip)
    # one transform per clip: equal frames stay equal (the same gain and channel order)
    assert all(torch.equal(out[:, t], out[:, 0]) for t in range(4))
    gray = D.ClipColorJitter(strength=0.0, shuffle=0.0, gray=1.0)(clip)
    assert torch.allclose(gray[0], gray[1]) and torch.allclose(gray[1], gray[2])
    contract = PRESETS["micro"].contract(["a", "b"])
    names = [type(t).__name__ for t in D.train_video_transforms(contract, color=True)]
    assert names.index("ClipColorJitter") == names.index("Normalize") - 1
