"""Fine-tune VideoMAE on a folder dataset with `Trainer`, the Hugging Face guide's recipe.

    from videoedge.train.finetune import TrainConfig, fine_tune
    result = fine_tune(TrainConfig(data="/tmp/ds", out="runs/tiny", model="tiny"))

While it trains, checkpoints, metrics.json and the curve live in RUN.partial/ (written as each
epoch ends; `resume=True` continues from the last checkpoint there). RUN/ itself appears only
when everything is done, built in a temporary directory and renamed into place: a failure
leaves no half-written RUN.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from videoedge.runtime import atomic
from videoedge.runtime.contract import Contract
from videoedge.runtime.errors import ContractError, UsageError

from . import data as D
from . import recipe as recipes
from . import runfolder as R

METRIC_PATH = Path(__file__).with_name("metrics") / "accuracy.py"
# from-scratch recipes of the presets (a checkpoint gets the guide's 4 epochs at 5e-5)
SCRATCH_RECIPES = {
    # tiny: chosen across dataset draws (benchmarks/train_seeds.py, train/README.md)
    "tiny": {"epochs": 14, "learning_rate": 5e-4, "batch_size": 16, "repeats": 3,
             "color_jitter": True, "weight_decay": 0.05, "label_smoothing": 0.1},
    "micro": {"epochs": 2, "learning_rate": 1e-3, "batch_size": 4, "repeats": 1,
              "color_jitter": False, "weight_decay": 0.0, "label_smoothing": 0.0},
    "base": {"epochs": 4, "learning_rate": 1e-4, "batch_size": 8, "repeats": 1,
             "color_jitter": False, "weight_decay": 0.0, "label_smoothing": 0.0},
}
RESUME_MUST_MATCH = ("data", "model", "labels", "max_steps", "steps_per_epoch")
GUIDE_RECIPE = {"epochs": 4, "learning_rate": 5e-5, "batch_size": 8, "repeats": 1,
                "color_jitter": False, "weight_decay": 0.0, "label_smoothing": 0.0}


@dataclass
class TrainConfig:
    data: str  # dataset folder: DATA/{train,val,test}/<Class>/<video>; labels = sorted train/ classes
    out: str  # run folder to create: RUN/model, RUN/metrics.json, RUN/preview.gif, RUN/training_curve.png
    model: str = "tiny"  # a preset name (random init), a local model directory, or a hub id
    epochs: int | None = None  # passes over train/; None: the preset's recipe, or 4 (the guide)
    batch_size: int | None = None  # clips per step; None: the preset's recipe, or 8 (the guide)
    repeats: int | None = None  # clips per decoded video and pass, each augmented on its own
    #   (VideoMAE's repeated augmentation); None: the preset's recipe, or 1
    color_jitter: bool | None = None  # brightness/contrast/channel/grey augmentation per clip
    #   (data.ClipColorJitter); None: the preset's recipe, or off
    learning_rate: float | None = None  # peak AdamW lr; None: the preset's recipe, or 5e-5 (guide)
    weight_decay: float | None = None  # AdamW weight decay; None: the preset's recipe, or 0
    label_smoothing: float | None = None  # cross-entropy label smoothing; None: the recipe's
    warmup_ratio: float = 0.1  # linear warm-up over this fraction of the steps (the guide)
    flip: bool = True  # RandomHorizontalFlip(0.5); turn off when left vs right defines a class
    num_workers: int = 2  # DataLoader processes decoding video with PyAV; 0 = in this process
    seed: int = 0  # model init, video order, augmentation
    max_steps: int | None = None  # stop after this many steps (smoke runs); None = epochs' worth
    resume: bool = False  # continue RUN.partial/ from its last checkpoint
    overwrite: bool = False  # replace an existing RUN (only once the new one is complete)
    keep_checkpoints: bool = False  # keep every epoch's checkpoint in RUN/checkpoints/
    evaluate_test: bool = True  # evaluate the saved model on test/ (single view) at the end
    push_to_hub: str | None = None  # hub repo id to upload RUN/model to at the end (needs network)
    progress: bool = True  # progress bars

    def __post_init__(self):
        problems = recipes.problems(self)
        if self.weight_decay is not None and self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.label_smoothing is not None and not 0 <= self.label_smoothing < 1:
            problems.append(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if problems:
            raise UsageError("; ".join(problems))

    def recipe(self) -> dict:
        """The preset's recipe (or the guide's) with every field set here taking its place.
        A model pre-trained by `videoedge pretrain` from a preset gets that preset's recipe:
        the guide's 4 epochs at 5e-5 are for VideoMAE-base checkpoints, and leave a small
        encoder where it started."""
        return recipes.fill(self, SCRATCH_RECIPES.get(self.model)
                            or SCRATCH_RECIPES.get(pretrained_from(self.model))
                            or GUIDE_RECIPE)


def pretrained_from(model: str) -> str | None:
    """The preset a `videoedge pretrain` run started from ("pretrain:tiny" in its contract)."""
    if not Path(model).is_dir():
        return None
    try:
        source = Contract.load(model).source
    except ContractError:
        return None
    return source.split(":", 1)[1] if source.startswith("pretrain:") else None


@dataclass
class TrainResult:
    run: Path  # the finished run folder
    metrics: dict  # what RUN/metrics.json holds
    warnings: list[str] = field(default_factory=list)


def fine_tune(config: TrainConfig, callbacks=()) -> TrainResult:
    """Train, pick the best epoch on val/, save it with its contract, evaluate it on test/.

    `callbacks`: extra `transformers.TrainerCallback`s (logging, early stopping, ...)."""
    from . import distributed

    started = time.perf_counter()
    out, work, main_process = R.begin(config)
    notes: list[str] = []

    labels = D.class_folders(config.data, "train")
    from .models import load_model

    if config.push_to_hub:
        _require_hub_for_push(config.push_to_hub)
    source = load_model(config.model, labels, seed=config.seed)
    if source.report is not None and main_process:
        print(f"videoedge: {source.report.line(config.model)}", file=sys.stderr, flush=True)
    contract = source.contract.replace(versions=R.versions())
    clip_s = contract.clip_seconds
    splits = {"train": D.scan_split(config.data, "train", labels, clip_s),
              "val": D.scan_split(config.data, "val", labels, clip_s)}
    test = D.scan_split(config.data, "test", labels, clip_s, required=False)
    for split in (*splits.values(), test):
        for line in split.report():
            R.warn(line, notes)
    leaks = D.group_leaks(config.data)
    if leaks:
        R.warn(f"{len(leaks)} UCF101 group(s) appear in more than one split (shared scenes "
              f"inflate accuracy): {'; '.join(leaks[:10])}", notes)

    recipe = config.recipe()
    bs, workers = recipe["batch_size"], config.num_workers
    # with N processes the main one draws N x batch_size clips a step and shares them out
    steps_per_epoch = D.batches_per_epoch(splits["train"].num_videos,
                                          bs * distributed.world_size(), workers,
                                          recipe["repeats"])
    max_steps = config.max_steps or steps_per_epoch * recipe["epochs"]
    if config.max_steps and config.epochs is None:
        recipe["epochs"] = math.ceil(max_steps / steps_per_epoch)
    max_steps = min(max_steps, steps_per_epoch * recipe["epochs"])

    run_info = {"data": str(Path(config.data).resolve()), "model": config.model,
                "labels": labels, "recipe": recipe, "max_steps": max_steps,
                "steps_per_epoch": steps_per_epoch, "flip": config.flip, "seed": config.seed,
                "num_workers": workers, "world_size": distributed.world_size()}
    resume_from = (R.prepare(work, run_info, config.resume, RESUME_MUST_MATCH)
                   if main_process else None)
    distributed.wait_for_main()
    if not main_process and config.resume:
        resume_from = R.last_checkpoint(work)
    try:
        trainer, live, best = _train(config, source, contract, splits, work, recipe, max_steps,
                                     steps_per_epoch, resume_from, callbacks)
    except BaseException:
        if main_process and not any(work.glob("checkpoint-*")):  # nothing to resume: leave
            shutil.rmtree(work, ignore_errors=True)  # nothing behind
        raise
    train_seconds = live.train_seconds
    identical = distributed.replicas_identical(trainer.model)

    test_metrics = {}
    if config.evaluate_test and test.num_videos:
        test_ds = D.video_dataset(test, contract, train=False)
        test_metrics = trainer.evaluate(test_ds, metric_key_prefix="test")

    metrics = {
        "model": config.model, "source": source.kind, "data": run_info["data"],
        "loaded_tensors": source.report.loaded if source.report else 0,
        "initialised_tensors": source.report.initialised if source.report else "all (preset)",
        "labels": labels, "clip_seconds": round(clip_s, 6),
        "videos": {k: s.num_videos for k, s in {**splits, "test": test}.items()},
        "skipped": {k: [{"path": p, "reason": r} for p, r in s.skipped]
                    for k, s in {**splits, "test": test}.items() if s.skipped},
        "group_leaks": leaks,
        "val_accuracy": best["eval_accuracy"], "best_step": best["step"],
        "best_epoch": round(best["step"] / steps_per_epoch, 3),
        "best_checkpoint": best["checkpoint"],
        "best_tensors_restored": best["tensors_fixed"],  # what load_best_model_at_end missed
        "test_accuracy": test_metrics.get("test_accuracy"),
        "test_loss": test_metrics.get("test_loss"),
        "steps": trainer.state.global_step, "steps_per_epoch": steps_per_epoch,
        "epochs": round(trainer.state.global_step / steps_per_epoch, 3),
        "recipe": recipe, "flip": config.flip, "num_workers": workers,
        "train_seconds": round(train_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started + live.previous_seconds, 1),
        "history": live.history, "warnings": notes, "versions": contract.versions,
        "world_size": distributed.world_size(), "replicas_identical": identical,
    }
    if not main_process:
        distributed.wait_for_main()
        return TrainResult(out, metrics, notes)
    if not identical:
        raise RuntimeError("the training processes ended with different weights; the run is "
                           f"kept in {work} for inspection")
    with atomic.directory(out, replace=config.overwrite) as tmp:
        from .presets import save_model_dir

        save_model_dir(trainer.model, contract, tmp / "model")
        for name in ("preview.gif", "training_curve.png"):
            if (work / name).exists():
                shutil.copy2(work / name, tmp / name)
        if config.keep_checkpoints:
            (tmp / "checkpoints").mkdir()
            for ckpt in work.glob("checkpoint-*"):
                shutil.copytree(ckpt, tmp / "checkpoints" / ckpt.name)
        atomic.write_json(tmp / "metrics.json", metrics)
    shutil.rmtree(work, ignore_errors=True)
    distributed.wait_for_main()
    if config.push_to_hub:
        _push(out / "model", config.push_to_hub)
    return TrainResult(out, metrics, notes)


def _train(config, source, contract, splits, work, recipe, max_steps, steps_per_epoch,
           resume_from, callbacks):
    """Preview, Trainer, train, best checkpoint: everything that writes into RUN.partial/."""
    train_ds = D.video_dataset(splits["train"], contract, train=True, flip=config.flip,
                               repeats=recipe["repeats"], color=recipe["color_jitter"])
    val_ds = D.video_dataset(splits["val"], contract, train=False)
    from . import distributed

    if distributed.is_main() and (not config.resume or not (work / "preview.gif").exists()):
        _write_preview(splits["train"], contract, config.flip, work / "preview.gif")
    trainer, live = _trainer(config, source.model, contract, train_ds, val_ds, work,
                             recipe, max_steps, steps_per_epoch, resume_from)
    for callback in callbacks:
        trainer.add_callback(callback)
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    live.train_seconds = time.perf_counter() - t0 + live.previous_seconds
    return trainer, live, _ensure_best(trainer, live.history, work)


# -- pieces -----------------------------------------------------------------------------------


def _evaluations_done(work: Path, resume_from: Path | None) -> int:
    """Evaluations already in RUN.partial/metrics.json up to the checkpoint resumed from."""
    file = work / "metrics.json"
    if resume_from is None or not file.is_file():
        return 0
    step = int(resume_from.name.split("-")[-1])
    history = json.loads(file.read_text()).get("history", [])
    return sum(1 for h in history if "eval_accuracy" in h and h["step"] <= step)


def _write_preview(split: D.Split, contract: Contract, flip: bool, path: Path) -> None:
    """The guide's debugging visual: one augmented training clip, un-normalised, as a GIF."""
    from .plots import preview_gif

    one = D.Split(split.name, split.root, split.videos[:1])
    sample = next(iter(D.video_dataset(one, contract, train=True, flip=flip)))
    preview_gif(sample["pixel_values"].numpy(), contract, path, title=sample["video_name"])


def _trainer(config, model, contract, train_ds, val_ds, work, recipe, max_steps,
             steps_per_epoch, resume_from):
    import evaluate
    import numpy as np
    from transformers import Trainer, TrainingArguments

    from .presets import image_processor

    metric = evaluate.load(str(METRIC_PATH))
    evaluations = [_evaluations_done(work, resume_from)]

    def compute_metrics(p):
        """accuracy, and the checkpoint-selection key: accuracy with ties going to the later
        evaluation (a small validation split ties often, and the later epoch has seen more)."""
        result = metric.compute(predictions=np.argmax(p.predictions, axis=1),
                                references=p.label_ids)
        evaluations[0] += 1
        return {**result, "selection": result["accuracy"] + 1e-6 * evaluations[0]}

    args = TrainingArguments(
        output_dir=str(work),
        remove_unused_columns=False,  # the dataset yields dicts the model does not take
        eval_strategy="epoch", save_strategy="epoch",
        learning_rate=recipe["learning_rate"], weight_decay=recipe["weight_decay"],
        label_smoothing_factor=recipe["label_smoothing"],
        per_device_train_batch_size=recipe["batch_size"],
        per_device_eval_batch_size=recipe["batch_size"],
        warmup_steps=config.warmup_ratio,  # transformers 5: a float < 1 is the warm-up ratio
        logging_steps=max(1, steps_per_epoch // 4),
        load_best_model_at_end=True, metric_for_best_model="selection",
        max_steps=max_steps,  # the dataset is iterable (no __len__): steps from num_videos
        save_total_limit=None if config.keep_checkpoints else 2,
        dataloader_num_workers=config.num_workers,
        ignore_data_skip=True,  # resume at an epoch boundary with a fresh pass, no skipping
        ddp_find_unused_parameters=False,  # torchrun: every parameter takes part
        seed=config.seed, data_seed=config.seed,
        report_to="none", disable_tqdm=not config.progress,
        use_cpu=not _cuda(),
    )
    live = LiveMetrics(work, steps_per_epoch, resume_from)
    _drop_misleading_reload_lines()
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                      processing_class=image_processor(contract), data_collator=D.collate,
                      compute_metrics=compute_metrics)
    trainer.callback_handler.callbacks.insert(0, live)  # before the printers: see on_log
    if not config.progress:
        quiet_trainer(trainer)
    return trainer, live


class _ReloadLines:
    """A logging filter for transformers.trainer's "There were missing / unexpected keys in the
    checkpoint model loaded" lines at `load_best_model_at_end`: for VideoMAE they only name the
    q_bias / v_bias renames, and `_ensure_best` checks and restores every tensor itself."""

    def filter(self, record) -> bool:
        text = record.getMessage()
        return not (text.startswith("There were") and "keys in the checkpoint model loaded"
                    in text)


def _drop_misleading_reload_lines() -> None:
    import logging

    trainer_log = logging.getLogger("transformers.trainer")
    if not any(isinstance(f, _ReloadLines) for f in trainer_log.filters):
        trainer_log.addFilter(_ReloadLines())


def quiet_trainer(trainer) -> None:
    """No log dicts on stdout and no progress bars (`--quiet`)."""
    from transformers import PrinterCallback
    from transformers.utils import logging as hf_logging

    trainer.remove_callback(PrinterCallback)
    hf_logging.disable_progress_bar()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def LiveMetrics(work: Path, steps_per_epoch: int, resume_from: Path | None, *,
                plot_every_log: bool = False):
    """A TrainerCallback writing RUN.partial/metrics.json and training_curve.png as logs come
    (the curve at every evaluation, or at every log with `plot_every_log`: no eval set)."""
    from transformers import TrainerCallback

    from .plots import training_curve

    class _Live(TrainerCallback):
        def __init__(self):
            self.history: list[dict] = []
            self.previous_seconds = 0.0
            self.t0 = time.perf_counter()
            file = work / "metrics.json"
            if resume_from is not None and file.is_file():  # keep what the checkpoint covers
                step = int(resume_from.name.split("-")[-1])
                saved = json.loads(file.read_text())
                self.history = [h for h in saved.get("history", []) if h["step"] <= step]
                timed = [h for h in self.history if "elapsed" in h]
                self.previous_seconds = timed[-1]["elapsed"] if timed else 0.0

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs is not None and "epoch" in logs:
                # Trainer's count is wrong for iterable datasets (0.0625 ... 15.06); this
                # callback runs first, so the printed logs carry ours: epoch k ends at k.0
                logs["epoch"] = round(state.global_step / steps_per_epoch, 2)
            logs = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in (logs or {}).items()}
            logs.pop("epoch", None)
            entry = {"step": state.global_step,
                     "epoch": round(state.global_step / steps_per_epoch, 3), **logs}
            entry["elapsed"] = round(time.perf_counter() - self.t0 + self.previous_seconds, 1)
            self.history.append(entry)
            if not state.is_world_process_zero:  # every process keeps the history, one writes
                return
            atomic.write_json(work / "metrics.json", {"status": "training",
                                                      "history": self.history})
            if "eval_accuracy" in logs or (plot_every_log and "loss" in logs):
                training_curve(self.history, work / "training_curve.png")

    return _Live()


def _ensure_best(trainer, history: list[dict], work: Path) -> dict:
    """Make the model in memory exactly the best checkpoint, by our own record.

    Best = the last epoch with the highest val accuracy (the Trainer agrees: it selects on
    `selection`, accuracy with ties going to the later evaluation). We do not take
    `load_best_model_at_end` on trust: in transformers 5.23 it reloads VideoMAE checkpoints
    with a raw `load_state_dict`, which misses the renamed q/v biases (`q_bias` on disk,
    `query.bias` in the model) and leaves them at the last epoch's values. The checkpoint is
    reloaded with `from_pretrained` (which maps the names) and copied over, tensor by tensor."""
    import torch

    evals = [h for h in history if "eval_accuracy" in h]
    if not evals:
        raise RuntimeError("training ended before the first evaluation; no best checkpoint")
    best = max(evals, key=lambda h: (h["eval_accuracy"], h["step"]))
    ckpt = work / f"checkpoint-{best['step']}"
    from .models import quiet_loading

    with quiet_loading():
        reference = type(trainer.model).from_pretrained(str(ckpt)).state_dict()
    current = trainer.model.state_dict()
    if set(reference) != set(current):
        raise RuntimeError(f"{ckpt} does not hold the model being trained "
                           f"({sorted(set(reference) ^ set(current))[:3]} differ)")
    differing = [k for k, v in reference.items() if not torch.equal(current[k].cpu(), v)]
    if differing:
        with torch.no_grad():
            for k in differing:
                current[k].copy_(reference[k])
    return dict(best, checkpoint=ckpt.name, tensors_fixed=len(differing))


def _require_hub_for_push(repo_id: str) -> None:
    """Fail before training, not after it, when the upload at the end cannot happen."""
    import os
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError:
        raise UsageError(f"--push-to-hub {repo_id} needs a network ({host} cannot be reached); "
                         "train without it and upload RUN/model later with `hf upload`") from None


def _push(model_dir: Path, repo_id: str) -> None:
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    api.upload_folder(folder_path=str(model_dir), repo_id=repo_id,
                      commit_message="videoedge train: model, processor config and contract")
