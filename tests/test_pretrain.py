"""`videoedge pretrain`: masked-autoencoder pre-training, fine-tuning from it, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("transformers")
pytest.importorskip("pytorchvideo")

from videoedge.runtime.cli import main
from videoedge.runtime.contract import Contract
from videoedge.train.pretrain import PretrainConfig, pretrain, tube_mask


def micro(videos, out, **kw) -> PretrainConfig:
    return PretrainConfig(**{"videos": str(videos), "out": str(out), "model": "micro",
                             "max_steps": 4, "batch_size": 2, "num_workers": 0,
                             "progress": False, **kw})


@pytest.fixture(scope="module")
def mae_run(small_dataset, tmp_path_factory):
    return pretrain(micro(small_dataset, tmp_path_factory.mktemp("mae") / "run")).run


def test_tube_mask_hides_the_same_patches_at_every_time_step():
    from videoedge.train.presets import PRESETS

    config = PRESETS["tiny"].config(["x"])  # 4 tubelet steps x 16 patches
    mask = tube_mask(5, config, 0.75)
    per_frame = (config.image_size // config.patch_size) ** 2
    steps = mask.view(5, config.num_frames // config.tubelet_size, per_frame)
    assert (steps == steps[:, :1]).all()  # one spatial mask, repeated over time
    assert (steps[:, 0].sum(dim=1) == 12).all()  # 75% of 16
    assert not (steps[0, 0] == steps[1, 0]).all() or not (steps[1, 0] == steps[2, 0]).all()


def test_run_holds_a_pretraining_model_its_contract_and_pictures(mae_run, small_dataset):
    from PIL import Image
    from transformers import AutoConfig

    assert not mae_run.with_name(mae_run.name + ".partial").exists()
    config = AutoConfig.from_pretrained(mae_run / "model")
    assert config.architectures == ["VideoMAEForPreTraining"] and config.norm_pix_loss
    contract = Contract.load(mae_run / "model")
    assert (contract.num_frames, contract.height) == (config.num_frames, config.image_size)
    m = json.loads((mae_run / "metrics.json").read_text())
    assert m["steps"] == 4 and m["mask_ratio"] == 0.9
    # a UCF101-style dataset: only train/ is read, and the pictures' clips are held out of it
    assert "train split only" in m["videos"] and m["num_videos"] + len(m["preview_videos"]) == 12
    assert all("/train/" in p for p in m["preview_videos"])
    for stage in ("start", "end"):
        png = Image.open(mae_run / f"reconstruction_{stage}.png")
        gif = Image.open(mae_run / f"reconstruction_{stage}.gif")
        assert gif.n_frames == contract.num_frames
        # 3 rows (original, masked, reconstruction) per clip; 3 columns in the GIF
        assert png.size[1] > 3 * len(m["preview_videos"]) * contract.height
        assert gif.size[0] > 3 * 3 * contract.width
        assert isinstance(m[f"preview_loss_{stage}"], float)


def test_finetuning_loads_every_encoder_tensor_and_drops_the_decoder(mae_run, capsys):
    import torch
    from transformers import VideoMAEForPreTraining

    from videoedge.train.models import load_model

    source = load_model(str(mae_run / "model"), ["a", "b", "c"])
    pre = VideoMAEForPreTraining.from_pretrained(str(mae_run / "model")).state_dict()
    encoder = {k: v for k, v in source.model.state_dict().items() if k.startswith("videomae.")}
    assert encoder and all(torch.equal(v, pre[k]) for k, v in encoder.items())
    # the renamed attention biases (q_bias / v_bias on disk) are among them
    assert any(k.endswith("attention.attention.query.bias") for k in encoder)
    r = source.report
    assert r.loaded == len(encoder) and r.source_class == "VideoMAEForPreTraining"
    assert sorted(r.initialised) == ["classifier.bias", "classifier.weight", "fc_norm.bias",
                                     "fc_norm.weight"]
    assert r.dropped == len([k for k in pre if not k.startswith("videomae.")])


def test_train_from_a_pretraining_run_says_in_one_line_what_loaded(mae_run, small_dataset,
                                                                  tmp_path, capsys):
    rc = main(["train", str(small_dataset), "--model", str(mae_run / "model"), "--out",
               str(tmp_path / "ft"), "--max-steps", "2", "--batch-size", "2", "--workers",
               "0", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0
    assert err.count("loaded ") == 1 and "encoder tensors" in err
    assert "missing keys" not in err and "q_bias" not in err and "UNEXPECTED" not in err
    m = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert m["loaded_tensors"] > 0 and "classifier.weight" in m["initialised_tensors"]


def test_interrupted_pretraining_leaves_a_resumable_run(small_dataset, tmp_path):
    from transformers import TrainerCallback

    class StopAfterFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise KeyboardInterrupt

    out = tmp_path / "mae"
    config = micro(small_dataset, out, max_steps=None, epochs=2)
    with pytest.raises(KeyboardInterrupt):
        pretrain(config, callbacks=[StopAfterFirstCheckpoint()])
    assert not out.exists()  # never a half-written run
    work = out.with_name("mae.partial")
    assert list(work.glob("checkpoint-*"))
    result = pretrain(micro(small_dataset, out, max_steps=None, epochs=2, resume=True))
    assert (out / "model" / "model.safetensors").is_file() and not work.exists()
    assert result.metrics["steps"] == 2 * result.metrics["steps_per_epoch"]


def test_a_flat_folder_of_videos_is_used_whole(small_dataset, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in sorted((small_dataset / "train").glob("*/*"))[:8]:
        shutil.copy(f, flat / f.name)
    result = pretrain(micro(flat, tmp_path / "run", max_steps=1))
    assert result.metrics["num_videos"] + len(result.metrics["preview_videos"]) == 8


@pytest.mark.parametrize("case, message", [
    ("no-videos", "none decodable"),
    ("too-few", "fewer than one batch"),
    ("not-videomae", "not VideoMAE"),
    ("mask-ratio", "--mask-ratio must be in (0, 1)"),
])
def test_bad_input_is_one_line_and_exit_2(case, message, small_dataset, tmp_path, capsys):
    args = ["pretrain", str(small_dataset), "--model", "micro", "--out", str(tmp_path / "run"),
            "--max-steps", "1", "--workers", "0", "--quiet"]
    if case == "no-videos":
        (tmp_path / "v").mkdir()
        (tmp_path / "v" / "clip.avi").write_text("not a video")
        args[1] = str(tmp_path / "v")
    elif case == "too-few":
        args += ["--batch-size", "64"]
    elif case == "not-videomae":
        (tmp_path / "bert").mkdir()
        (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
        args[3] = str(tmp_path / "bert")
    elif case == "mask-ratio":
        args += ["--mask-ratio", "1.5"]
    rc = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_train_refuses_a_pretraining_run_whose_contract_does_not_fit(mae_run, small_dataset,
                                                                    tmp_path, capsys):
    broken = tmp_path / "model"
    shutil.copytree(mae_run / "model", broken)
    contract = Contract.load(broken)
    contract.replace(num_frames=contract.num_frames * 2).save(broken)
    rc = main(["train", str(small_dataset), "--model", str(broken), "--out", str(tmp_path / "ft"),
               "--max-steps", "1", "--workers", "0", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "frames" in err[0], err
    assert not (tmp_path / "ft").exists()


def test_plain_pixel_loss_is_a_choice_saved_with_the_model(small_dataset, tmp_path):
    from transformers import AutoConfig

    result = pretrain(micro(small_dataset, tmp_path / "run", max_steps=1, pixel_loss="plain"))
    assert AutoConfig.from_pretrained(tmp_path / "run" / "model").norm_pix_loss is False
    assert result.metrics["pixel_loss"] == "plain"
    assert (tmp_path / "run" / "reconstruction_end.png").is_file()


def test_finetuning_a_pretraining_run_takes_its_presets_recipe(mae_run, small_dataset):
    """Not the guide's 4 epochs at 5e-5 (for VideoMAE-base checkpoints), which leave a small
    encoder where it started: the recipe of the preset it was pre-trained from."""
    from videoedge.train.finetune import GUIDE_RECIPE, SCRATCH_RECIPES, TrainConfig

    config = TrainConfig(data=str(small_dataset), out="unused", model=str(mae_run / "model"))
    assert config.recipe() == SCRATCH_RECIPES["micro"] != GUIDE_RECIPE
    assert TrainConfig(data="d", out="o", model=str(mae_run / "model"),
                       epochs=7).recipe()["epochs"] == 7
