"""`videoedge train` / `fine_tune`: the run folder, the best checkpoint, resume, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("pytorchvideo")

from helpers import write_video
from videoedge.runtime.cli import main
from videoedge.runtime.contract import Contract
from videoedge.runtime.errors import UsageError
from videoedge.train.finetune import TrainConfig, fine_tune


def micro_config(data, out, **kw) -> TrainConfig:
    return TrainConfig(**{"data": str(data), "out": str(out), "model": "micro", "epochs": 3,
                          "num_workers": 0, "progress": False, **kw})


@pytest.fixture(scope="module")
def run(small_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    return fine_tune(micro_config(small_dataset, out, keep_checkpoints=True, seed=2,
                                  learning_rate=0.02)).run  # best epoch != last


def logits(model_dir, clips):
    import torch
    from transformers import VideoMAEForVideoClassification

    model = VideoMAEForVideoClassification.from_pretrained(str(model_dir)).eval()
    with torch.inference_mode():
        return model(pixel_values=torch.from_numpy(clips)).logits.numpy()


def test_run_folder_holds_model_contract_metrics_and_pictures(run, small_dataset):
    from PIL import Image
    from transformers import AutoConfig, VideoMAEImageProcessor

    assert not run.with_name(run.name + ".partial").exists()
    config = AutoConfig.from_pretrained(run / "model")
    contract = Contract.load(run / "model")
    assert contract.labels == sorted(p.name for p in (small_dataset / "train").iterdir())
    assert [config.id2label[i] for i in range(3)] == contract.labels
    assert config.label2id == contract.label2id
    proc = VideoMAEImageProcessor.from_pretrained(run / "model")
    assert proc.crop_size == {"height": contract.height, "width": contract.width}
    m = json.loads((run / "metrics.json").read_text())
    assert m["steps"] == 3 * m["steps_per_epoch"] and m["videos"] == {"train": 12, "val": 3, "test": 6}
    for key in ("val_accuracy", "test_accuracy", "train_seconds", "wall_seconds"):
        assert isinstance(m[key], float)
    assert m["data"] == str(small_dataset.resolve())
    assert [h["epoch"] for h in m["history"] if "eval_accuracy" in h] == [1.0, 2.0, 3.0]
    gif = Image.open(run / "preview.gif")
    assert gif.n_frames == contract.num_frames and gif.size == (3 * contract.width, 3 * contract.height)
    assert Image.open(run / "training_curve.png").format == "PNG"


def test_saved_model_is_exactly_the_best_checkpoint(run, small_dataset):
    """Reload RUN/model and every checkpoint and compare logits on the same val clips.
    The best epoch is read from the checkpoints' own trainer state, not from our metrics."""
    from videoedge.runtime.preprocess import uniform_clip_starts
    from videoedge.runtime.video import clips_at, probe_duration

    contract = Contract.load(run / "model")
    videos = sorted((small_dataset / "val").glob("*/*"))
    clips = np.stack([clips_at(v, contract, uniform_clip_starts(
        probe_duration(v), contract.clip_seconds, 1))[0].pixel_values for v in videos])
    ckpts = sorted((run / "checkpoints").iterdir(), key=lambda p: int(p.name.split("-")[1]))
    assert len(ckpts) == 3
    state = json.loads((ckpts[-1] / "trainer_state.json").read_text())
    # the best: highest val accuracy, ties going to the later epoch; the Trainer agrees
    evals = [(h["eval_accuracy"], h["step"]) for h in state["log_history"] if "eval_accuracy" in h]
    best_step = max(evals)[1]
    assert state["best_model_checkpoint"].endswith(f"checkpoint-{best_step}")
    saved = logits(run / "model", clips)
    for ckpt in ckpts:
        diff = np.abs(logits(ckpt, clips) - saved).max()
        if ckpt.name == f"checkpoint-{best_step}":
            assert diff <= 1e-6
        else:  # the comparison can tell checkpoints apart
            assert diff > 1e-4, ckpt.name
    assert best_step != int(ckpts[-1].name.split("-")[1]), "seed gives best == last: not a test"


class Interrupt(Exception):
    pass


def test_resume_continues_an_interrupted_run(small_dataset, tmp_path):
    from transformers import TrainerCallback

    class StopAfterFirstSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise Interrupt

    out = tmp_path / "run"
    config = micro_config(small_dataset, out, epochs=2, num_workers=1, evaluate_test=False)
    with pytest.raises(Interrupt):
        fine_tune(config, callbacks=[StopAfterFirstSave()])
    partial = tmp_path / "run.partial"
    assert not out.exists() and (partial / "checkpoint-3").is_dir()
    first = json.loads((partial / "metrics.json").read_text())["history"]
    with pytest.raises(UsageError, match="--resume"):
        fine_tune(config)
    result = fine_tune(micro_config(small_dataset, out, epochs=2, num_workers=1,
                                    evaluate_test=False, resume=True))
    m = result.metrics
    assert m["steps"] == 6 and not partial.exists() and (out / "model" / "videoedge.json").is_file()
    assert [h["step"] for h in m["history"] if "eval_accuracy" in h] == [3, 6]
    assert m["history"][: len(first)] == first  # the first epoch's record is kept as it was


def test_skipped_files_are_reported_and_training_goes_on(small_dataset, tmp_path, capsys):
    data = shutil.copytree(small_dataset, tmp_path / "d")
    (data / "train" / "Growing" / "v_Growing_g09_c01.avi").write_bytes(b"\x00" * 2000)
    write_video(data / "val" / "Growing" / "v_Growing_g10_c01.avi", frames=20)
    rc = main(["train", str(data), "--model", "micro", "--out", str(tmp_path / "run"),
               "--epochs", "1", "--workers", "0", "--quiet", "--no-test"])
    err = capsys.readouterr().err
    assert rc == 0
    assert "skipped" in err and "v_Growing_g09_c01.avi" in err and "cannot be decoded" in err
    assert "v_Growing_g10_c01.avi" in err and "shorter than one clip" in err
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(m["skipped"]["train"]) == 1 and len(m["skipped"]["val"]) == 1
    assert m["videos"]["train"] == 12


@pytest.mark.parametrize("case, expected", [
    ("missing", "does not exist"),
    ("empty", "no train/"),
    ("empty_class", "has no videos"),
    ("all_corrupt", "no usable videos"),
    ("preset", "did you mean 'tiny'"),
    ("hub", "needs a network"),
    ("model_dir", "does not exist"),
    ("out_exists", "already exists"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(small_dataset, tmp_path, capsys,
                                                           monkeypatch, case, expected):
    data, model, out = tmp_path / "d", "micro", tmp_path / "run"
    if case != "missing":
        data.mkdir()
    if case in ("empty_class", "all_corrupt", "preset", "hub", "model_dir", "out_exists"):
        shutil.rmtree(data)
        shutil.copytree(small_dataset, data)
    if case in ("empty_class", "all_corrupt"):
        for f in (data / "train" / "Growing").iterdir():
            if case == "empty_class":
                f.unlink()
            else:
                f.write_bytes(b"broken")
    model = {"preset": "tinny", "hub": "MCG-NJU/videomae-base",
             "model_dir": str(tmp_path / "nowhere" / "model")}.get(case, model)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if case == "out_exists":
        out.mkdir()
    rc = main(["train", str(data), "--model", model, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 or case == "all_corrupt", err  # all_corrupt: skip lines, then the error
    assert err[-1].startswith("videoedge: error:") and expected in err[-1]
    if case == "hub":
        assert "--model DIR" in err[-1]
    assert out.exists() == (case == "out_exists")
    assert not (tmp_path / "run.partial").exists()


def test_logged_epochs_count_from_one_and_end_at_the_epoch_count(small_dataset, tmp_path,
                                                                 capsys):
    """The Trainer's own epoch is wrong for iterable datasets (0.0625 ... 15.06): the logs a
    user reads carry one numbering, the one metrics.json and the summary line use."""
    import re

    fine_tune(micro_config(small_dataset, tmp_path / "run", epochs=2, progress=True))
    printed = [float(e) for e in re.findall(r"'epoch': '([0-9.]+)'", capsys.readouterr().out)]
    assert printed and max(printed) == 2.0 and min(printed) > 0
    assert 1.0 in printed  # the first epoch's evaluation is logged at epoch 1
