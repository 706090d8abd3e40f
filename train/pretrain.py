"""Self-supervised pre-training: VideoMAE's masked autoencoder on unlabeled videos.

    from videoedge.train.pretrain import PretrainConfig, pretrain
    result = pretrain(PretrainConfig(videos="/tmp/ds", out="runs/mae", model="tiny"))
    # then: fine_tune(TrainConfig(data="/tmp/ds", out="runs/ft", model="runs/mae/model"))

What it does (the VideoMAE paper's recipe, at the scale of the model):
- clips are sampled exactly as fine-tuning samples them: PyTorchVideo `LabeledVideoDataset`,
  a random clip of the contract's length per video and pass, the same training transform;
- tube masking: one random spatial mask per clip, shared by every time step, hiding
  `mask_ratio` of the patches (0.9 by default);
- the loss is the mean squared error on the hidden patches' pixels, each patch normalised by
  its own mean and variance (`norm_pix_loss`), with a small decoder that is dropped afterwards.

VIDEOS is a UCF101-style dataset (then only train/ is read: val and test stay unseen) or any
folder of videos (recursively); labels are ignored. A few videos are held out of training to
draw the reconstruction pictures (`reconstruction_start.png`, `_end.png`, `.gif`).

While it trains, checkpoints and metrics live in RUN.partial/ (`resume=True` continues from
the last one); RUN/ appears only once everything is written (built aside, then renamed).
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
from videoedge.runtime.errors import DataError, UsageError
from videoedge.runtime.sources import videos_in

from . import data as D
from . import models as M
from . import recipe as recipes
from . import runfolder as R

UNLABELLED = "unlabelled"  # the contract needs a label list; a pre-trained encoder has none
RESUME_MUST_MATCH = ("videos", "model", "mask_ratio", "max_steps", "steps_per_epoch")
PREVIEW_VIDEOS = 3  # videos held out of pre-training for the reconstruction pictures
# pre-training recipes of the presets; a checkpoint (hub id or directory) continues with "base"
# (repeats: clips per decoded video and pass, each with its own crop and mask, as the
# spatiotemporal MAE papers sample to spare the decoder)
MAE_RECIPES = {
    "tiny": {"epochs": 40, "learning_rate": 1e-3, "batch_size": 32, "repeats": 2,
             "color_jitter": True},
    "micro": {"epochs": 2, "learning_rate": 1e-3, "batch_size": 4, "repeats": 1,
              "color_jitter": False},
    "base": {"epochs": 20, "learning_rate": 1.5e-4, "batch_size": 8, "repeats": 2,
             "color_jitter": False},
}


@dataclass
class PretrainConfig:
    videos: str  # a folder of videos (recursively), or a UCF101-style dataset: only train/ is used
    out: str  # run folder to create: RUN/model (VideoMAEForPreTraining + contract), pictures
    model: str = "tiny"  # a preset (random init), a local VideoMAE directory, or a hub id
    epochs: int | None = None  # passes over the videos; None: the preset's recipe
    max_steps: int | None = None  # stop after this many steps; None: epochs' worth
    mask_ratio: float = 0.9  # fraction of the spatial patches hidden (tube masking)
    pixel_loss: str = "normalised"  # "normalised": each target patch by its own mean and
    #   spread (VideoMAE's norm_pix_loss); "plain": the pixels as they are
    batch_size: int | None = None  # clips per step; None: the preset's recipe
    repeats: int | None = None  # clips per decoded video and pass; None: the preset's recipe
    learning_rate: float | None = None  # peak AdamW lr (cosine schedule); None: the recipe's
    weight_decay: float = 0.05  # AdamW weight decay (the paper's)
    warmup_ratio: float = 0.1  # linear warm-up over this fraction of the steps
    num_workers: int = 2  # DataLoader processes decoding video with PyAV; 0 = in this process
    seed: int = 0  # model init, video order, augmentation, masks
    resume: bool = False  # continue RUN.partial/ from its last checkpoint
    overwrite: bool = False  # replace an existing RUN (only once the new one is complete)
    progress: bool = True  # progress bars

    def __post_init__(self):
        problems = recipes.problems(self)
        if not (isinstance(self.mask_ratio, (int, float)) and 0 < self.mask_ratio < 1):
            problems.append(f"--mask-ratio must be in (0, 1), e.g. 0.9; got {self.mask_ratio!r}")
        if self.pixel_loss not in ("normalised", "plain"):
            problems.append(f"pixel_loss must be normalised or plain, got {self.pixel_loss!r}")
        if problems:
            raise UsageError("; ".join(problems))

    def recipe(self) -> dict:
        return recipes.fill(self, MAE_RECIPES.get(self.model, MAE_RECIPES["base"]))


@dataclass
class PretrainResult:
    run: Path
    metrics: dict
    warnings: list[str] = field(default_factory=list)


# -- videos ---------------------------------------------------------------------------------
def list_videos(folder: str | Path, clip_seconds: float) -> tuple[D.Split, str]:
    """The videos to pre-train on, probed with the training decoder, and what was read.

    A UCF101-style dataset (a train/ folder of class folders) gives its train split only;
    any other folder gives every video under it. Undecodable and too-short files are skipped
    and recorded, as fine-tuning does."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"video folder {folder} does not exist; pass a folder of videos or a "
                        "UCF101-style dataset")
    train = root / "train"
    if train.is_dir() and any(p.is_dir() for p in train.iterdir()):
        files, what = videos_in(train), f"{train} (the train split only; val/ and test/ unread)"
    else:
        files, what = videos_in(root), str(root)
    split = D.Split("pretrain", root)
    for f in files:
        try:
            duration = D.probe(f)
        except Exception as e:  # noqa: BLE001 - any decoder failure: skip it, say so
            split.skipped.append((str(f), f"cannot be decoded ({type(e).__name__}: {e})"[:200]))
            continue
        if duration + 1e-6 < clip_seconds:
            split.skipped.append((str(f), f"shorter than one clip ({duration:.2f} s < "
                                          f"{clip_seconds:.2f} s)"))
            continue
        split.videos.append(D.Video(str(f), 0, duration))
    if not split.videos:
        seen = f"{len(files)} video file(s), none decodable" if files else "no video files"
        raise DataError(f"{what}: {seen} at least {clip_seconds:.2f} s long; pass a folder "
                        "of videos (.avi, .mp4, ...) to pre-train on")
    return split, what


def hold_out(split: D.Split, n: int = PREVIEW_VIDEOS) -> tuple[D.Split, list[D.Video]]:
    """Every k-th video (deterministic) left out of training, for the reconstruction pictures."""
    if len(split.videos) <= 2 * n:
        return split, split.videos[:n]  # too few to spare any: draw training videos
    step = len(split.videos) // n
    held = [split.videos[i * step] for i in range(n)]
    kept = [v for v in split.videos if v not in held]
    return D.Split(split.name, split.root, kept, split.skipped), held


# -- model ----------------------------------------------------------------------------------
def load_pretraining_model(spec: str, *, seed: int = 0, norm_pix_loss: bool = True):
    """-> (VideoMAEForPreTraining, Contract, kind). A preset is built with its small decoder;
    a directory or hub id must hold a VideoMAE checkpoint (pre-training or not: a missing
    decoder is initialised)."""
    import torch
    from transformers import VideoMAEForPreTraining

    from .presets import PRESETS, get_preset

    if spec in PRESETS:
        preset = get_preset(spec)
        torch.manual_seed(seed)
        config = preset.config([UNLABELLED])
        config.norm_pix_loss = norm_pix_loss
        return VideoMAEForPreTraining(config).train(), preset.contract([UNLABELLED]), "preset"
    where, kind = M.resolve_checkpoint(spec)
    M.require_videomae(where, spec)
    with M.quiet_loading():
        model = VideoMAEForPreTraining.from_pretrained(where, norm_pix_loss=norm_pix_loss)
    contract = M.contract_for(where, model.config, [UNLABELLED])
    return model.train(), contract, kind


def tube_mask(batch: int, config, ratio: float, generator=None):
    """(batch, tokens) bool, True = hidden: one spatial mask per clip, the same at every
    tubelet time step (VideoMAE's tube masking)."""
    import torch

    per_frame = (config.image_size // config.patch_size) ** 2
    steps = config.num_frames // config.tubelet_size
    hidden = int(round(ratio * per_frame))
    hidden = min(max(hidden, 1), per_frame - 1)  # at least one patch hidden and one visible
    mask = torch.zeros(batch, per_frame, dtype=torch.bool)
    for row in mask:
        row[torch.randperm(per_frame, generator=generator)[:hidden]] = True
    return mask.repeat(1, steps)


class MaskingCollator:
    """Stacks clips to (B, T, C, H, W) and draws a tube mask per clip (picklable for workers)."""

    def __init__(self, config, ratio: float):
        self.config, self.ratio = config, ratio

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        x = torch.stack([e["pixel_values"] for e in examples])
        return {"pixel_values": x, "bool_masked_pos": tube_mask(len(x), self.config, self.ratio)}


# -- the run --------------------------------------------------------------------------------
def pretrain(config: PretrainConfig, callbacks=()) -> PretrainResult:
    """Pre-train, draw the pictures, save RUN/model (encoder + decoder + contract)."""
    from . import distributed

    started = time.perf_counter()
    out, work, main_process = R.begin(config)
    notes: list[str] = []
    model, contract, kind = load_pretraining_model(
        config.model, seed=config.seed, norm_pix_loss=config.pixel_loss == "normalised")
    M.check_fits(model.config, contract, config.model)
    contract = contract.replace(source=f"pretrain:{config.model}", versions=R.versions())
    split, what = list_videos(config.videos, contract.clip_seconds)
    for line in split.report() if main_process else ():
        R.warn(line, notes)
    split, preview = hold_out(split)
    recipe = config.recipe()
    bs, workers = recipe["batch_size"], config.num_workers
    if split.num_videos < bs:
        raise DataError(f"{what} has {split.num_videos} usable video(s), fewer than one batch "
                        f"of {bs}; add videos or pass a smaller --batch-size")
    steps_per_epoch = D.batches_per_epoch(split.num_videos, bs * distributed.world_size(),
                                          workers, recipe["repeats"])
    max_steps = config.max_steps or steps_per_epoch * recipe["epochs"]
    if config.max_steps and config.epochs is None:
        recipe["epochs"] = math.ceil(max_steps / steps_per_epoch)
    max_steps = min(max_steps, steps_per_epoch * recipe["epochs"])
    run_info = {"videos": str(Path(config.videos).resolve()), "model": config.model,
                "mask_ratio": config.mask_ratio, "recipe": recipe, "max_steps": max_steps,
                "steps_per_epoch": steps_per_epoch, "seed": config.seed,
                "world_size": distributed.world_size()}
    resume_from = (R.prepare(work, run_info, config.resume, RESUME_MUST_MATCH)
                   if main_process else None)
    distributed.wait_for_main()
    if not main_process and config.resume:
        resume_from = R.last_checkpoint(work)
    if config.progress and main_process:
        print(f"pre-training on {split.num_videos} videos of {what}: {max_steps} steps, "
              f"mask ratio {config.mask_ratio:g}", file=sys.stderr, flush=True)

    from .plots import reconstruction_pictures

    # the pictures are the main process's: only it decodes the held-out clips
    preview_clips = _preview_clips(preview, contract) if main_process else None
    if resume_from is None and main_process:
        reconstruction_pictures(model, preview_clips, config.mask_ratio, contract,
                                work / "reconstruction_start", seed=config.seed)
    try:
        trainer, live = _trainer(config, model, contract, split, work, recipe, max_steps,
                                 steps_per_epoch, resume_from)
        for callback in callbacks:
            trainer.add_callback(callback)
        t0 = time.perf_counter()
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        train_seconds = time.perf_counter() - t0 + live.previous_seconds
    except BaseException:
        if main_process and not any(work.glob("checkpoint-*")):
            shutil.rmtree(work, ignore_errors=True)
        raise
    model = trainer.model.eval()
    identical = distributed.replicas_identical(model)
    if not main_process:
        distributed.wait_for_main()
        return PretrainResult(out, {"world_size": distributed.world_size()}, notes)
    if not identical:
        raise RuntimeError("the training processes ended with different weights; the run is "
                           f"kept in {work} for inspection")
    end_loss = reconstruction_pictures(model, preview_clips, config.mask_ratio, contract,
                                       work / "reconstruction_end", seed=config.seed)
    losses = [h["loss"] for h in live.history if "loss" in h]
    metrics = {
        "task": "pretrain", "model": config.model, "source": kind, "videos": what,
        "num_videos": split.num_videos, "preview_videos": [v.path for v in preview],
        "skipped": [{"path": p, "reason": r} for p, r in split.skipped],
        "mask_ratio": config.mask_ratio, "pixel_loss": config.pixel_loss, "recipe": recipe,
        "seed": config.seed,
        "steps": trainer.state.global_step, "steps_per_epoch": steps_per_epoch,
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        "preview_loss_start": _start_loss(work), "preview_loss_end": end_loss,
        "train_seconds": round(train_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started + live.previous_seconds, 1),
        "history": live.history, "warnings": notes, "versions": contract.versions,
        "world_size": distributed.world_size(), "replicas_identical": identical,
    }
    with atomic.directory(out, replace=config.overwrite) as tmp:
        from .presets import save_model_dir

        save_model_dir(model, contract, tmp / "model")
        for f in work.glob("reconstruction_*"):
            shutil.copy2(f, tmp / f.name)
        if (work / "training_curve.png").exists():
            shutil.copy2(work / "training_curve.png", tmp / "training_curve.png")
        atomic.write_json(tmp / "metrics.json", metrics)
    shutil.rmtree(work, ignore_errors=True)
    distributed.wait_for_main()
    return PretrainResult(out, metrics, notes)


def _preview_clips(videos: list[D.Video], contract: Contract):
    """The centred clip of each held-out video, through the contract's eval transform."""
    import torch

    one = D.Split("preview", Path("."), list(videos))
    return torch.stack([s["pixel_values"] for s in D.video_dataset(one, contract, train=False)])


def _trainer(config, model, contract, split, work, recipe, max_steps, steps_per_epoch,
             resume_from):
    from transformers import Trainer, TrainingArguments

    from .finetune import LiveMetrics, _cuda, quiet_trainer

    dataset = D.video_dataset(split, contract, train=True, repeats=recipe["repeats"],
                              color=recipe["color_jitter"])
    args = TrainingArguments(
        output_dir=str(work),
        remove_unused_columns=False,
        eval_strategy="no", save_strategy="epoch", save_total_limit=2,
        learning_rate=recipe["learning_rate"], weight_decay=config.weight_decay,
        adam_beta2=0.95,  # the MAE / VideoMAE optimiser
        lr_scheduler_type="cosine", warmup_steps=config.warmup_ratio,
        per_device_train_batch_size=recipe["batch_size"],
        logging_steps=max(1, steps_per_epoch),
        max_steps=max_steps, dataloader_num_workers=config.num_workers,
        ignore_data_skip=True, seed=config.seed, data_seed=config.seed,
        ddp_find_unused_parameters=False,
        report_to="none", disable_tqdm=not config.progress, use_cpu=not _cuda(),
    )
    live = LiveMetrics(work, steps_per_epoch, resume_from, plot_every_log=True)
    trainer = Trainer(model=model, args=args, train_dataset=dataset,
                      data_collator=MaskingCollator(model.config, config.mask_ratio))
    trainer.callback_handler.callbacks.insert(0, live)  # first: it fixes the logged epoch
    if not config.progress:
        quiet_trainer(trainer)
    return trainer, live


def _start_loss(work: Path):
    """The held-out loss before training, as the start pictures recorded it (also after a
    resume, which draws no new start pictures)."""
    f = work / "reconstruction_start.json"
    return json.loads(f.read_text()).get("loss") if f.is_file() else None
