"""Parity: does each ONNX variant decide like the PyTorch model, on real clips?

For every variant, on the same held-out clips: max abs logit difference, mean cosine of the
logit vectors, top-1 agreement with PyTorch, and accuracy of both against the true labels.
Every variant and every figure is checked against its precision's limits; all failures are
collected and reported together (one line each), never just the first."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from .config import ParityLimits


@dataclass
class Figures:
    """One variant against PyTorch on N clips."""

    file: str  # file name in the bundle
    precision: str  # fp32, fp16, int8, int8-static
    clips: int  # clips compared
    max_abs: float  # max |logit - torch logit|
    mean_abs: float  # mean |logit - torch logit|
    mean_cosine: float  # mean cosine similarity of logit vectors
    agreement: float  # fraction of clips with the same top-1 class as PyTorch
    accuracy_torch: float  # accuracy of PyTorch against the true labels
    accuracy: float  # accuracy of this variant against the true labels
    accuracy_drop: float  # accuracy_torch - accuracy (positive = worse)
    seconds: float  # wall time of this variant's inference over all clips

    def to_dict(self) -> dict:
        return asdict(self)


def compare(file: str, precision: str, reference: np.ndarray, logits: np.ndarray,
            labels: np.ndarray, seconds: float = 0.0) -> Figures:
    """Figures of `logits` (N, C) against `reference` (N, C), both on the same clips."""
    reference = np.asarray(reference, dtype=np.float64)
    logits = np.asarray(logits, dtype=np.float64)
    if reference.shape != logits.shape:
        raise ValueError(f"logits shape {logits.shape} != reference {reference.shape}")
    diff = np.abs(logits - reference)
    norms = np.linalg.norm(logits, axis=1) * np.linalg.norm(reference, axis=1)
    cosine = np.sum(logits * reference, axis=1) / np.maximum(norms, 1e-12)
    top_ref, top = reference.argmax(1), logits.argmax(1)
    acc_ref = float(np.mean(top_ref == labels))
    acc = float(np.mean(top == labels))
    return Figures(file=file, precision=precision, clips=len(labels),
                   max_abs=float(diff.max()), mean_abs=float(diff.mean()),
                   mean_cosine=float(cosine.mean()), agreement=float(np.mean(top == top_ref)),
                   accuracy_torch=acc_ref, accuracy=acc, accuracy_drop=acc_ref - acc,
                   seconds=round(seconds, 3))


def clip_slack(limits: ParityLimits, clips: int) -> ParityLimits:
    """The limits as applied to `clips` clips: the agreement and accuracy limits never ask
    for less than one clip of slack. On 96 clips one flipped clip is 1.04 points, so a 1-point
    accuracy limit (or 99.5% agreement) would refuse any quantized file that decides a single
    borderline clip differently; the fix for a real doubt is more clips
    (`--clips-per-video`), not a refusal."""
    if clips < 1:
        return limits
    one = 1.0 / clips
    return ParityLimits(
        max_abs=limits.max_abs, min_cosine=limits.min_cosine,
        min_agreement=(None if limits.min_agreement is None
                       else min(limits.min_agreement, 1.0 - one)),
        max_accuracy_drop=(None if limits.max_accuracy_drop is None
                           else max(limits.max_accuracy_drop, one)))


def failures(fig: Figures, limits: ParityLimits) -> list[str]:
    """One line per figure over its limit (with one clip of slack, `clip_slack`), naming the
    file and the figure."""
    name = f"{fig.file} ({fig.precision})"
    limits = clip_slack(limits, fig.clips)
    out = []
    if limits.max_abs is not None and not fig.max_abs <= limits.max_abs:
        out.append(f"{name}: max abs logit diff {fig.max_abs:.3g} > {limits.max_abs:.3g}")
    if limits.min_cosine is not None and not fig.mean_cosine >= limits.min_cosine:
        out.append(f"{name}: mean cosine {fig.mean_cosine:.6f} < {limits.min_cosine}")
    if limits.min_agreement is not None and not fig.agreement >= limits.min_agreement:
        out.append(f"{name}: top-1 agreement {fig.agreement:.1%} < {limits.min_agreement:.1%} "
                   f"({round((1 - fig.agreement) * fig.clips)} of {fig.clips} clips differ)")
    if limits.max_accuracy_drop is not None and not fig.accuracy_drop <= limits.max_accuracy_drop + 1e-12:
        out.append(f"{name}: accuracy {fig.accuracy:.1%} vs PyTorch {fig.accuracy_torch:.1%} "
                   f"(-{fig.accuracy_drop * 100:.1f} points > {limits.max_accuracy_drop * 100:.1f})")
    return out


def torch_logits(model, pixel_values: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    """PyTorch logits (N, C) of the clips, and the seconds it took."""
    import torch

    outs = []
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(pixel_values), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(pixel_values[i:i + batch_size]))
            outs.append(model(pixel_values=x).logits.float().numpy())
    return np.concatenate(outs), time.perf_counter() - start


def onnx_logits(path: str | os.PathLike, pixel_values: np.ndarray, batch_size: int,
                input_name: str = "pixel_values") -> tuple[np.ndarray, float]:
    """onnxruntime (CPU) logits (N, C) of the clips, and the seconds inference took."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # no busy-waiting threads: parity is not a benchmark, and spinning ORT threads on a shared
    # CPU (other jobs, the PyTorch reference) slow everything on it down several-fold
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    outs = []
    start = time.perf_counter()
    for i in range(0, len(pixel_values), batch_size):
        x = np.ascontiguousarray(pixel_values[i:i + batch_size], dtype=np.float32)
        outs.append(session.run(None, {input_name: x})[0].astype(np.float32))
    seconds = time.perf_counter() - start
    del session
    return np.concatenate(outs), seconds


def render_markdown(report: dict) -> str:
    """parity.md: the table a reviewer reads, from the parity.json object."""
    data = report["clips"]
    lines = [
        "# Parity: ONNX variants against PyTorch",
        "",
        f"Model: `{report['model']}`  ",
        f"Clips: {data['count']} real clips from `{data['split_dir']}` "
        f"({data['videos']} videos, {data['clips_per_video']} per video), decoded and "
        "preprocessed by the contract.  ",
        f"Result: **{'PASS' if report['passed'] else 'FAIL'}**",
        "",
        "| file | precision | max abs diff | mean cosine | top-1 agreement | acc PyTorch "
        "| acc ONNX | acc drop (points) | size MB | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in report["variants"]:
        lines.append(
            f"| {v['file']} | {v['precision']} | {v['max_abs']:.2e} | {v['mean_cosine']:.6f} "
            f"| {v['agreement']:.1%} | {v['accuracy_torch']:.1%} | {v['accuracy']:.1%} "
            f"| {v['accuracy_drop'] * 100:+.1f} | {v.get('size_mb', float('nan')):.1f} "
            f"| {'pass' if v['passed'] else 'FAIL'} |")
    lines += ["", "Limits per precision (a variant over any of them fails the export):", "",
              "| precision | max abs diff | mean cosine | top-1 agreement | acc drop (points) |",
              "|---|---|---|---|---|"]
    for precision, lim in report["limits"].items():
        def cell(key, fmt, lim=lim):
            return fmt(lim[key]) if key in lim else "-"
        lines.append(
            f"| {precision} | {cell('max_abs', lambda x: f'<= {x:g}')} "
            f"| {cell('min_cosine', lambda x: f'>= {x:g}')} "
            f"| {cell('min_agreement', lambda x: f'>= {x:.1%}')} "
            f"| {cell('max_accuracy_drop', lambda x: f'<= {x * 100:.1f}')} |")
    if report["failures"]:
        lines += ["", "Failures:", ""] + [f"- {f}" for f in report["failures"]]
    lines += ["", "Figures: max abs diff and cosine compare logits; top-1 agreement is the "
              "share of clips where the variant picks the same class as PyTorch; accuracy is "
              "against the clips' true labels (a small model's accuracy may be low: parity "
              "is about agreement with PyTorch, not about the model being good).", ""]
    return "\n".join(lines)
