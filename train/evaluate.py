"""Evaluate a trained model directory on a dataset split, decoding as the runtime does.

Single view (default): the centred clip of each video, centre crop: the same clips, the same
OpenCV decoding and the same numpy preprocessing as `videoedge run`, so the two agree on
top-1; only the inference backend differs.
Multi-view (`clips=N, crops=3`, the VideoMAE paper's protocol): N clips spread uniformly over
the video x 3 crops along the long side (start, centre, end) of the short-side-resized
frames; softmax scores are averaged over the N x 3 views.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from videoedge.runtime.contract import CONTRACT_FILENAME, Contract
from videoedge.runtime.errors import ContractError, DataError, SourceError, UsageError
from videoedge.runtime.preprocess import short_side_size, softmax, uniform_clip_starts


@dataclass
class EvalResult:
    model: str  # model directory
    data: str  # dataset folder
    split: str
    clips: int  # temporal views per video
    crops: int  # spatial views per clip
    labels: list[str]  # the model's labels, in id order
    videos: int  # videos evaluated
    top1: float  # accuracy of the averaged scores
    top5: float | None  # true label among the 5 best; None with 5 classes or fewer
    per_class: dict  # label -> {"correct", "videos", "accuracy"}
    confusion: list  # [true][predicted] counts, in label order
    predictions: list = field(default_factory=list)  # per video: path, label, predicted, score
    skipped: list = field(default_factory=list)  # [{"path", "reason"}]: not evaluated
    seconds: dict = field(default_factory=dict)  # decode / infer / total

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        views = f"{self.clips} clip(s) x {self.crops} crop(s)"
        top5 = f", top-5 {self.top5:.2%}" if self.top5 is not None else ""
        return (f"{self.split}: top-1 {self.top1:.2%}{top5} on {self.videos} "
                f"videos ({views}); {len(self.skipped)} skipped")


def load_model_dir(model_dir: str | Path):
    """(model, contract) from a videoedge model directory (or any VideoMAE directory)."""
    from transformers import VideoMAEForVideoClassification

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise UsageError(f"{model_dir} is not a model directory (no config.json); pass RUN/model "
                         "from `videoedge train`")
    model = VideoMAEForVideoClassification.from_pretrained(str(model_dir)).eval()
    if (model_dir / CONTRACT_FILENAME).is_file():
        contract = Contract.load(model_dir)
    else:
        from .models import contract_for

        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        contract = contract_for(str(model_dir), model.config, labels)
    if contract.labels != [model.config.id2label[i] for i in range(model.config.num_labels)]:
        raise ContractError(f"{model_dir}: the labels of {CONTRACT_FILENAME} and config.json differ")
    return model, contract


def video_views(path, contract: Contract, clips: int, crops: int) -> np.ndarray:
    """(clips * crops, T, 3, H, W) float32 model inputs of one video, by the runtime's decoder."""
    import cv2

    from videoedge.runtime.video import clips_at, probe_duration

    starts = uniform_clip_starts(probe_duration(path), contract.clip_seconds, clips)
    if crops == 1:
        return np.stack([c.pixel_values for c in clips_at(path, contract, starts)])
    cap = cv2.VideoCapture(str(path))
    h, w = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    cap.release()
    rh, rw = short_side_size(h, w, contract.resize_short_side)
    full = contract.replace(height=rh, width=rw)  # resize only; the crops are taken below
    views = []
    for clip in clips_at(path, full, starts):
        for top, left in crop_offsets(rh, rw, contract.height, contract.width, crops):
            views.append(clip.pixel_values[:, :, top:top + contract.height,
                                           left:left + contract.width])
    return np.ascontiguousarray(np.stack(views))


def crop_offsets(h: int, w: int, ch: int, cw: int, crops: int) -> list[tuple[int, int]]:
    """(top, left) of `crops` crops along the long side: 1 = centre; 3 = start, centre, end."""
    if crops == 1:
        return [((h - ch) // 2, (w - cw) // 2)]
    if w >= h:
        return [((h - ch) // 2, left) for left in (0, (w - cw) // 2, w - cw)]
    return [(top, (w - cw) // 2) for top in (0, (h - ch) // 2, h - ch)]


def evaluate_model(model_dir, data_dir, split: str = "test", clips: int = 1, crops: int = 1,
                   *, batch_size: int = 8, progress: bool = False) -> EvalResult:
    """Accuracy of `model_dir` on DATA/<split>: top-1, top-5, per class, confusion matrix."""
    import torch
    from tqdm import tqdm

    if clips < 1:
        raise UsageError(f"--clips must be >= 1, got {clips}")
    if crops not in (1, 3):
        raise UsageError(f"--crops must be 1 or 3, got {crops}")
    root = Path(data_dir) / split
    if not Path(data_dir).is_dir():
        raise DataError(f"dataset folder {data_dir} does not exist")
    if not root.is_dir():
        raise DataError(f"{data_dir} has no {split}/ folder; expected {data_dir}/{split}/<Class>/<video>")
    model, contract = load_model_dir(model_dir)
    index = contract.label2id
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [c for c in classes if c not in index]
    if unknown:
        raise DataError(f"{root} has classes the model does not know: {', '.join(unknown)} "
                        f"(its labels: {', '.join(contract.labels)})")
    files = [(f, index[c]) for c in classes for f in sorted((root / c).iterdir()) if f.is_file()]
    if not files:
        raise DataError(f"{root} has no videos")

    n = contract.num_classes
    confusion = np.zeros((n, n), dtype=np.int64)
    top5_hits, predictions, skipped = 0, [], []
    t_decode = t_infer = 0.0
    t_start = time.perf_counter()
    for path, label in tqdm(files, desc=f"evaluate {split}", unit="video", disable=not progress):
        t0 = time.perf_counter()
        try:
            views = video_views(path, contract, clips, crops)
        except (SourceError, ValueError) as e:
            skipped.append({"path": str(path), "reason": str(e)})
            continue
        t1 = time.perf_counter()
        with torch.inference_mode():
            logits = np.concatenate([
                model(pixel_values=torch.from_numpy(views[i:i + batch_size])).logits.numpy()
                for i in range(0, len(views), batch_size)])
        t_infer += time.perf_counter() - t1
        t_decode += t1 - t0
        scores = softmax(logits).mean(axis=0)
        order = np.argsort(-scores, kind="stable")
        pred = int(order[0])
        confusion[label, pred] += 1
        top5_hits += int(label in order[:5])
        predictions.append({"path": str(path), "label": contract.labels[label],
                            "predicted": contract.labels[pred], "score": round(float(scores[pred]), 6)})
    total = int(confusion.sum())
    if total == 0:
        raise DataError(f"no video of {root} could be decoded ({len(skipped)} skipped)")
    per_class = {
        contract.labels[i]: {"correct": int(confusion[i, i]), "videos": int(confusion[i].sum()),
                             "accuracy": (float(confusion[i, i] / confusion[i].sum())
                                          if confusion[i].sum() else None)}
        for i in range(n) if contract.labels[i] in classes}
    return EvalResult(
        model=str(model_dir), data=str(data_dir), split=split, clips=clips, crops=crops,
        labels=list(contract.labels), videos=total,
        top1=float(np.trace(confusion) / total), top5=float(top5_hits / total) if n > 5 else None,
        per_class=per_class, confusion=confusion.tolist(), predictions=predictions,
        skipped=skipped,
        seconds={"decode": round(t_decode, 3), "infer": round(t_infer, 3),
                 "total": round(time.perf_counter() - t_start, 3)})
