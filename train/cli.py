"""Subcommands of the training stage: `data synth`, `train`, `evaluate`.

Only argparse at module level; each handler imports what it needs when it runs."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="make datasets")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    synth = data_sub.add_parser(
        "synth", help="write the synthetic UCF101-style dataset (the embedded default)",
        description="OUT/{train,val,test}/<Class>/v_<Class>_gXX_cYY.avi; default 10 classes, "
        "300/30/75 videos as the guide's UCF101 subset.",
    )
    synth.add_argument("out", help="output folder (must not exist or be empty)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--classes", type=int, default=10, help="number of classes, 2-10")
    synth.add_argument("--per-class", metavar="TRAIN,VAL,TEST",
                       help="videos per class and split, e.g. 30,3,8 (default: 300/30/75 in all)")
    synth.add_argument("--size", default="160x120", help="frame size WxH (UCF101: 320x240)")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: 2)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(handler=_synth, extra=None)

    train = sub.add_parser(
        "train", help="fine-tune VideoMAE on a folder dataset (Trainer, the HF guide's recipe)",
        description="DATA/{train,val}/<Class>/<video> (test/ optional); labels = sorted class "
        "folders. Writes RUN/model (from_pretrained-able, with the contract), RUN/metrics.json, "
        "RUN/preview.gif, RUN/training_curve.png. While training, checkpoints and live metrics "
        "are in RUN.partial/; RUN appears only when the run has finished.",
    )
    train.add_argument("data", help="dataset folder (UCF101 layout)")
    train.add_argument("--model", default="tiny",
                       help="preset (tiny, micro, base: random init), a local model directory, "
                       "or a hub id such as MCG-NJU/videomae-base (needs a network); default tiny")
    train.add_argument("--out", required=True, help="run folder to create")
    train.add_argument("--epochs", type=int, help="passes over train/ (default: the preset's "
                       "recipe; 4 for a checkpoint, as the guide)")
    train.add_argument("--batch-size", type=int, help="clips per step and process (default: "
                       "the preset's recipe, tiny 16; 8 for a checkpoint)")
    train.add_argument("--lr", type=float, dest="learning_rate",
                       help="peak learning rate (default: the preset's; 5e-5 for a checkpoint)")
    train.add_argument("--repeats", type=int, help="clips per decoded video and pass, each "
                       "with its own augmentation (default: the preset's recipe, tiny 3; 1 "
                       "for a checkpoint)")
    train.add_argument("--color-jitter", action=argparse.BooleanOptionalAction, default=None,
                       help="per-clip brightness/contrast/channel/grey augmentation (default: "
                       "the preset's recipe; off for a checkpoint)")
    train.add_argument("--weight-decay", type=float, help="AdamW weight decay (default: the "
                       "preset's recipe; 0 for a checkpoint)")
    train.add_argument("--label-smoothing", type=float, help="cross-entropy label smoothing "
                       "(default: the preset's recipe; 0 for a checkpoint)")
    train.add_argument("--warmup-ratio", type=float, default=0.1, help="warm-up fraction (0.1)")
    train.add_argument("--no-flip", dest="flip", action="store_false",
                       help="no random horizontal flip (when left vs right defines a class)")
    train.add_argument("--workers", type=int, default=2, dest="num_workers",
                       help="video-decoding DataLoader processes (default 2; 0 = in-process)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--max-steps", type=int, help="stop after this many steps (smoke runs)")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run from the last checkpoint in RUN.partial/")
    train.add_argument("--overwrite", action="store_true",
                       help="replace an existing RUN once the new one is complete")
    train.add_argument("--keep-checkpoints", action="store_true",
                       help="keep every epoch's checkpoint in RUN/checkpoints/")
    train.add_argument("--no-test", dest="evaluate_test", action="store_false",
                       help="do not evaluate on test/ at the end")
    train.add_argument("--push-to-hub", metavar="REPO_ID",
                       help="upload RUN/model to this hub repo at the end (needs a network)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(handler=_train, extra="train")

    pre = sub.add_parser(
        "pretrain", help="self-supervised VideoMAE pre-training on unlabeled videos",
        description="Masked-autoencoder pre-training (tube masking, normalised-pixel loss, a "
        "small decoder) with the Trainer. VIDEOS: any folder of videos, or a UCF101-style "
        "dataset (then only train/ is read; labels are ignored). Writes RUN/model "
        "(fine-tune it with `videoedge train DATA --model RUN/model`), RUN/metrics.json and "
        "the reconstruction pictures; while training, checkpoints are in RUN.partial/.",
    )
    pre.add_argument("videos", help="folder of videos, or a UCF101-style dataset")
    pre.add_argument("--model", default="tiny",
                     help="preset (tiny, micro, base), a local VideoMAE directory or a hub id")
    pre.add_argument("--out", required=True, help="run folder to create")
    length = pre.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="passes over the videos (default: the "
                        "preset's recipe)")
    length.add_argument("--max-steps", type=int, help="stop after this many steps")
    pre.add_argument("--mask-ratio", type=float, default=0.9,
                     help="fraction of patches hidden, in (0, 1) (default 0.9)")
    pre.add_argument("--batch-size", type=int, help="clips per step and process (default: "
                     "the recipe's, tiny 32)")
    pre.add_argument("--pixel-loss", choices=("normalised", "plain"), default="normalised",
                     help="reconstruct each hidden patch normalised by its own mean and "
                     "spread (VideoMAE's default) or plain pixels (for dim, noisy footage "
                     "where a normalised patch is mostly noise)")
    pre.add_argument("--repeats", type=int, help="clips per decoded video and pass, each with "
                     "its own crop and mask (default: the recipe's)")
    pre.add_argument("--lr", type=float, dest="learning_rate", help="peak learning rate")
    pre.add_argument("--workers", type=int, default=2, dest="num_workers",
                     help="video-decoding DataLoader processes (default 2)")
    pre.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    pre.add_argument("--resume", action="store_true",
                     help="continue an interrupted run from the last checkpoint in RUN.partial/")
    pre.add_argument("--overwrite", action="store_true",
                     help="replace an existing RUN once the new one is complete")
    pre.add_argument("--quiet", action="store_true", help="no progress bars")
    pre.set_defaults(handler=_pretrain, extra="train")

    ev = sub.add_parser(
        "evaluate", help="accuracy of a model directory on a dataset split",
        description="Single view by default (the centred clip, centre crop, decoded as "
        "`videoedge run` decodes); --clips N --crops 3 is the VideoMAE paper's multi-view "
        "protocol (scores averaged). Exit 1 when a video could not be decoded (reported).",
    )
    ev.add_argument("model", help="model directory (RUN/model)")
    ev.add_argument("data", help="dataset folder (UCF101 layout)")
    ev.add_argument("--split", default="test", help="train, val or test (default test)")
    ev.add_argument("--clips", type=int, default=1, help="clips per video (default 1)")
    ev.add_argument("--crops", type=int, default=1, choices=(1, 3), help="crops per clip")
    ev.add_argument("--json", metavar="FILE", help="write the full result as JSON")
    ev.add_argument("--plot", metavar="PNG", help="write the confusion matrix "
                    "(default with --json: FILE's name with .confusion.png)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(handler=_evaluate, extra="train")



def _synth(args) -> int:
    from .synth import SynthConfig, describe, parse_counts, parse_size, synthesize

    kwargs = dict(classes=args.classes, size=parse_size(args.size), seed=args.seed)
    if args.per_class:
        kwargs["per_class"] = parse_counts(args.per_class)
    if args.workers:
        kwargs["workers"] = args.workers
    manifest = synthesize(args.out, SynthConfig(**kwargs), progress=not args.quiet)
    print(f"wrote {args.out}: {describe(manifest)}")
    return 0


def _train(args) -> int:
    from .finetune import TrainConfig, fine_tune

    fields = ("data", "model", "epochs", "batch_size", "repeats", "color_jitter",
              "learning_rate", "weight_decay", "label_smoothing",
              "warmup_ratio", "flip", "num_workers", "seed", "max_steps", "resume", "overwrite",
              "keep_checkpoints", "evaluate_test", "push_to_hub")
    config = TrainConfig(out=args.out, progress=not args.quiet,
                         **{k: getattr(args, k) for k in fields})
    result = fine_tune(config)
    from . import distributed

    if not distributed.is_main():
        return 0
    m = result.metrics
    test = f"{m['test_accuracy']:.2%}" if m["test_accuracy"] is not None else "n/a"
    print(f"wrote {result.run}: val accuracy {m['val_accuracy']:.2%} (epoch {m['best_epoch']:g}), "
          f"test accuracy {test}, {m['steps']} steps in {m['train_seconds']:.0f} s")
    return 0


def _pretrain(args) -> int:
    from .pretrain import PretrainConfig, pretrain

    fields = ("videos", "model", "epochs", "max_steps", "mask_ratio", "batch_size", "repeats",
              "pixel_loss",
              "learning_rate", "num_workers", "seed", "resume", "overwrite")
    config = PretrainConfig(out=args.out, progress=not args.quiet,
                            **{k: getattr(args, k) for k in fields})
    m = pretrain(config).metrics
    from . import distributed

    if not distributed.is_main():
        return 0
    print(f"wrote {args.out}: {m['steps']} steps on {m['num_videos']} videos in "
          f"{m['train_seconds']:.0f} s; held-out reconstruction loss "
          f"{m['preview_loss_start']:.3f} -> {m['preview_loss_end']:.3f}; fine-tune with "
          f"`videoedge train DATA --model {args.out}/model`")
    return 0


def _evaluate(args) -> int:
    from pathlib import Path

    from videoedge.runtime import atomic

    from .evaluate import evaluate_model
    from .plots import confusion_matrix_png

    result = evaluate_model(args.model, args.data, args.split, clips=args.clips,
                            crops=args.crops, progress=not args.quiet)
    print(result.summary())
    for label, c in result.per_class.items():
        print(f"  {label:<24} {c['correct']:>4}/{c['videos']:<4} {c['accuracy']:.2%}")
    for s in result.skipped:
        print(f"videoedge: skipped {s['path']}: {s['reason']}", file=sys.stderr)
    plot = args.plot or (str(Path(args.json).with_suffix("")) + ".confusion.png" if args.json else None)
    if args.json:
        atomic.write_json(args.json, result.to_dict())
    if plot:
        import numpy as np

        confusion_matrix_png(np.array(result.confusion), result.labels, plot,
                             title=f"{result.split}: top-1 {result.top1:.1%}")
    return 1 if result.skipped else 0
