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


def reconstruction_pictures(model, clips, mask_ratio: float, contract: Contract,
                            stem: str | Path, *, seed: int = 0, scale: int = 3) -> float:
    """VideoMAE's own check of a pre-training run: for each clip, original | masked input |
    reconstruction, as STEM.png (every frame, one block of rows per clip) and STEM.gif (the
    three side by side, over time). Masks are drawn from `seed`, so the pictures at the start
    and at the end of a run hide the same patches. Visible patches are shown as they are;
    hidden ones as predicted, un-normalised with the true patch's mean and spread (the
    `norm_pix_loss` target). Returns the reconstruction loss on these clips (also in
    STEM.json)."""
    import torch
    from PIL import Image

    from .pretrain import tube_mask

    cfg = model.config
    generator = torch.Generator().manual_seed(seed)
    mask = tube_mask(len(clips), cfg, mask_ratio, generator=generator)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(pixel_values=clips, bool_masked_pos=mask)
    model.train(was_training)
    ts, ps = cfg.tubelet_size, cfg.patch_size
    frames = torch.from_numpy(np.stack([unnormalize(c.numpy(), contract) for c in clips]))
    video = frames.float() / 255.0  # (B, T, H, W, 3) in 0..1
    B, T, H, W, C = video.shape
    patches = video.view(B, T // ts, ts, H // ps, ps, W // ps, ps, C)
    patches = patches.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(B, -1, ts * ps * ps, C)
    recon = patches.clone()
    hidden = patches[mask]  # (n_hidden, ts*ps*ps, C)
    pred = out.logits.reshape(-1, ts * ps * ps, C)
    if cfg.norm_pix_loss:
        mean = hidden.mean(dim=-2, keepdim=True)
        std = hidden.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6
        pred = pred * std + mean
    recon[mask] = pred.clamp(0, 1)
    masked = patches.clone()
    masked[mask] = 0.15  # grey where hidden

    def unpatch(p):
        p = p.reshape(B, T // ts, H // ps, W // ps, ts, ps, ps, C)
        return p.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(B, T, H, W, C)

    rows = [video, unpatch(masked), unpatch(recon)]  # each (B, T, H, W, C)
    to8 = lambda x: (x.clamp(0, 1) * 255).round().byte().numpy()
    gap = 2
    # PNG: per clip three rows (original, masked, reconstruction) of T frames
    blocks = []
    for b in range(B):
        for r in rows:
            blocks.append(np.concatenate([np.pad(to8(r[b, t]), ((gap, gap), (gap, gap), (0, 0)),
                                                 constant_values=255) for t in range(T)], axis=1))
        blocks.append(np.full((gap * 3, blocks[-1].shape[1], 3), 255, np.uint8))
    grid = np.concatenate(blocks[:-1], axis=0).repeat(scale, axis=0).repeat(scale, axis=1)
    stem = Path(stem)
    with atomic.file(stem.with_suffix(".png")) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")
    # GIF: per frame, clips stacked, original | masked | reconstruction side by side
    images = []
    for t in range(T):
        lines = [np.concatenate([np.pad(to8(r[b, t]), ((gap, gap), (gap, gap), (0, 0)),
                                        constant_values=255) for r in rows], axis=1)
                 for b in range(B)]
        image = np.concatenate(lines, axis=0).repeat(scale, axis=0).repeat(scale, axis=1)
        images.append(Image.fromarray(image))
    fps = contract.reference_fps / contract.frame_stride
    with atomic.file(stem.with_suffix(".gif")) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=round(1000 / fps), loop=0)
    loss = round(float(out.loss), 6)
    atomic.write_json(stem.with_suffix(".json"), {"loss": loss, "clips": B,
                                                  "mask_ratio": mask_ratio, "seed": seed})
    return loss
