"""Pictures of a run: the training curve, the preview GIF, the confusion matrix.

Each is written atomically (temporary name, then rename), so a reader never sees half a PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from videoedge.runtime import atomic
from videoedge.runtime.contract import Contract
from videoedge.runtime.preprocess import unnormalize


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curve(history: list[dict], path: str | Path) -> Path:
    """Train loss per logging step and val loss / accuracy per epoch, against the step."""
    plt = _pyplot()
    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    evals = [h for h in history if "eval_accuracy" in h]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    if train:
        ax1.plot(*zip(*train), label="train loss", lw=1)
    if evals:
        ax1.plot([h["step"] for h in evals], [h["eval_loss"] for h in evals], "o-", label="val loss")
        ax2.plot([h["step"] for h in evals], [h["eval_accuracy"] for h in evals], "o-", color="C2")
    ax1.set(xlabel="step", ylabel="loss", title="loss")
    ax1.legend()
    ax2.set(xlabel="step", ylabel="accuracy", title="validation accuracy", ylim=(0, 1.02))
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    with atomic.file(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)


def preview_gif(clip: np.ndarray, contract: Contract, path: str | Path, *, scale: int = 3,
                title: str = "") -> Path:
    """A preprocessed clip (T, 3, H, W), normalised, as the GIF the guide shows: un-normalised
    to 0..255, enlarged `scale` x (nearest) so small inputs are visible."""
    from PIL import Image

    frames = unnormalize(np.asarray(clip, dtype=np.float32), contract)  # (T, H, W, 3) uint8
    frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(f) for f in frames]
    fps = contract.reference_fps / contract.frame_stride
    with atomic.file(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=round(1000 / fps), loop=0, comment=title.encode())
    return Path(path)


def confusion_matrix_png(matrix: np.ndarray, labels: list[str], path: str | Path,
                         title: str = "") -> Path:
    """Rows: true class, columns: predicted class, counts in the cells."""
    plt = _pyplot()
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * n, 1.0 + 0.5 * n))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    peak = matrix.max() if matrix.size else 0
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > peak / 2 else "black")
    fig.tight_layout()
    with atomic.file(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)
