"""A synthetic UCF101-style dataset: the embedded default (nothing can be downloaded here).

Layout and names as UCF101 and the Hugging Face guide's subset:
    OUT/{train,val,test}/<Class>/v_<Class>_gXX_cYY.avi   (some .mp4)
Default size as the guide's subset: 10 classes, 300 train / 30 val / 75 test videos.

What makes it a stand-in worth training on:
- Groups mean what they mean in UCF101: the clips of one group share a scene (background,
  object look, lighting, camera jitter) and no group spans two splits, so test scenes are
  never seen in training.
- Four pairs of classes are time-reversals of each other (Growing/Shrinking,
  FadingIn/FadingOut, Rising/Falling, Merging/Splitting): each frame of one is distributed
  like a frame of the other, so one frame cannot tell them apart; only the order can.
- Every class is symmetric under a horizontal flip (the guide's augmentation): motion is
  vertical, radial or mirror-symmetric, never left-vs-right.
- Real-footage variety: 24/25/29.97/30 fps, 2.5-4 s, XVID AVI plus some MP4 (mp4v),
  sensor noise, lighting, camera shake and a distractor object.
- Deterministic: every video is rendered from its own seed derived from (seed, split,
  class, group, clip), so the result does not depend on worker scheduling.

Only numpy and OpenCV: it runs on the base install.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from videoedge.runtime import atomic
from videoedge.runtime.errors import UsageError

# name -> (motion, reversed). A reversed class is its partner played backwards.
CLASSES: dict[str, tuple[str, bool]] = {
    "Growing": ("scale", False),
    "Shrinking": ("scale", True),
    "FadingIn": ("fade", False),
    "FadingOut": ("fade", True),
    "Rising": ("vertical", False),
    "Falling": ("vertical", True),
    "Merging": ("pair", False),
    "Splitting": ("pair", True),
    "Blinking": ("blink", False),
    "Bouncing": ("bounce", False),
}
TIME_REVERSED_PAIRS = [("Growing", "Shrinking"), ("FadingIn", "FadingOut"),
                       ("Rising", "Falling"), ("Merging", "Splitting")]
SPLITS = ("train", "val", "test")
FPS_CHOICES = (24.0, 25.0, 29.97, 30.0)
SHAPES = ("circle", "square", "triangle", "diamond", "ring")
CLIPS_PER_GROUP = 5  # UCF101 groups hold 4-7 clips
MP4_EVERY = 7  # every 7th clip of a class is MP4 (mp4v) instead of XVID AVI


@dataclass
class SynthConfig:
    classes: int = 10  # number of classes, taken in order from CLASSES (2..10)
    per_class: tuple[int, int, int] | None = None  # (train, val, test) per class; None = totals
    totals: tuple[int, int, int] = (300, 30, 75)  # the guide's subset, spread over classes
    size: tuple[int, int] = (160, 120)  # (width, height); UCF101 is 320x240, half by default
    min_seconds: float = 2.5  # durations are uniform in [min_seconds, max_seconds]
    max_seconds: float = 4.0
    seed: int = 0
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))

    def __post_init__(self):
        if not 2 <= self.classes <= len(CLASSES):
            raise UsageError(f"--classes must be between 2 and {len(CLASSES)}, got {self.classes}")
        counts = self.per_class if self.per_class is not None else self.totals
        if len(counts) != 3 or any((not isinstance(c, int)) or c < 0 for c in counts):
            raise UsageError(f"video counts must be three integers >= 0 (train,val,test), got {counts}")
        if self.per_class is not None and (self.per_class[0] < 1 or max(self.per_class) > 1000):
            raise UsageError(f"--per-class needs 1..1000 train videos per class, got {self.per_class}")
        if self.per_class is None and self.totals[0] < self.classes:
            raise UsageError(f"need at least one train video per class ({self.classes}), got {self.totals[0]}")
        w, h = self.size
        if not (32 <= w <= 1920 and 32 <= h <= 1080) or w % 2 or h % 2:
            raise UsageError(f"--size must be even WxH between 32x32 and 1920x1080, got {w}x{h}")
        if not 0.5 <= self.min_seconds <= self.max_seconds <= 60:
            raise UsageError("durations must satisfy 0.5 <= min_seconds <= max_seconds <= 60")

    def class_names(self) -> list[str]:
        return list(CLASSES)[: self.classes]

    def counts(self, class_index: int) -> tuple[int, int, int]:
        """(train, val, test) videos of one class; totals are spread, remainders first."""
        if self.per_class is not None:
            return tuple(self.per_class)
        return tuple(t // self.classes + (class_index < t % self.classes) for t in self.totals)


@dataclass
class VideoSpec:
    path: str  # relative to the dataset root
    label: str
    split: str
    group: int
    clip: int
    fps: float
    frames: int
    seed: int


def _seed(*parts) -> int:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**63)


def _groups(n: int) -> list[int]:
    """Split n clips into groups of at most CLIPS_PER_GROUP, as evenly as possible."""
    if n == 0:
        return []
    k = math.ceil(n / CLIPS_PER_GROUP)
    return [n // k + (i < n % k) for i in range(k)]


def plan(config: SynthConfig) -> list[VideoSpec]:
    """Every video to write, with its group and clip numbers. Groups never span splits."""
    specs = []
    for ci, name in enumerate(config.class_names()):
        group = 0
        clip_no = 0
        for split, n in zip(SPLITS, config.counts(ci)):
            for size in _groups(n):
                group += 1
                for c in range(1, size + 1):
                    clip_no += 1
                    seed = _seed(config.seed, name, group, c)
                    rng = np.random.default_rng(seed)
                    fps = float(rng.choice(FPS_CHOICES))
                    seconds = rng.uniform(config.min_seconds, config.max_seconds)
                    ext = "mp4" if clip_no % MP4_EVERY == 0 else "avi"
                    specs.append(VideoSpec(
                        path=f"{split}/{name}/v_{name}_g{group:02d}_c{c:02d}.{ext}",
                        label=name, split=split, group=group, clip=c, fps=fps,
                        frames=max(2, int(round(seconds * fps))), seed=seed,
                    ))
    return specs


# -- rendering ----------------------------------------------------------------------------
def _scene(config: SynthConfig, label: str, group: int) -> dict:
    """What the clips of one group share: background, object look, lighting, shake.

    Keyed by (class, group), as in UCF101 where each group of a class is its own recording.
    Scenes are dim and the object bright: measured with the tiny preset from scratch, scenes
    shared by group number alone (9 in the whole default set) left too few looks to
    generalise from (62% test), scenes shared by time-reversed partners did worse (72%), and
    busy, colourful scenes drowned the motion (chance)."""
    rng = np.random.default_rng(_seed(config.seed, "scene", label, group))
    w, h = config.size
    # dim, desaturated backgrounds and a bright object: a stage-lit scene, so the motion is
    # what stands out at 64 px, whatever the scene
    grey = rng.uniform(25, 95, 2)
    c0, c1 = (g + rng.uniform(-15, 15, 3) for g in grey)
    ramp = np.linspace(0, 1, h)[:, None, None] if rng.random() < 0.5 else np.linspace(0, 1, w)[None, :, None]
    bg = c0 * (1 - ramp) + c1 * ramp + np.zeros((h, w, 3))
    # coarse texture (walls, grass): low-resolution noise blown up
    tex = cv2.resize(rng.normal(0, 6, (max(2, h // 16), max(2, w // 16), 3)), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    bg = bg + tex
    color = rng.uniform(110, 255, 3)
    color[rng.integers(3)] = rng.uniform(225, 255)  # keep the object saturated and bright
    return {
        "background": bg.astype(np.float32),
        "shape": SHAPES[rng.integers(len(SHAPES))],
        "color": tuple(float(x) for x in color),
        "gain": float(rng.uniform(0.85, 1.15)),
        "shake": float(rng.uniform(0.0, 1.5)),  # px of camera jitter
        "noise": float(rng.uniform(1.0, 4.0)),  # sensor noise sigma
        "size": float(rng.uniform(0.18, 0.24)),  # object radius, fraction of frame height
    }


def _draw(canvas: np.ndarray, shape: str, cx: float, cy: float, r: float, color, alpha=1.0):
    if r < 0.5 or alpha <= 0:
        return
    layer = canvas if alpha >= 1 else canvas.copy()
    p = (int(round(cx)), int(round(cy)))
    ri = max(1, int(round(r)))
    if shape == "circle":
        cv2.circle(layer, p, ri, color, -1, cv2.LINE_AA)
    elif shape == "ring":
        cv2.circle(layer, p, ri, color, max(2, ri // 3), cv2.LINE_AA)
    elif shape == "square":
        cv2.rectangle(layer, (p[0] - ri, p[1] - ri), (p[0] + ri, p[1] + ri), color, -1, cv2.LINE_AA)
    else:  # triangle, diamond: both symmetric about the vertical axis
        if shape == "triangle":
            pts = [(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)]
        else:
            pts = [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
        cv2.fillPoly(layer, [np.round(np.array(pts)).astype(np.int32)], color, cv2.LINE_AA)
    if alpha < 1:
        cv2.addWeighted(layer, alpha, canvas, 1 - alpha, 0, dst=canvas)


def render(config: SynthConfig, spec: VideoSpec) -> np.ndarray:
    """All frames of one video, (N, H, W, 3) uint8 BGR (OpenCV's order, for the writer)."""
    w, h = config.size
    scene = _scene(config, spec.label, spec.group)
    motion, reverse = CLASSES[spec.label]
    rng = np.random.default_rng(spec.seed)
    n, fps = spec.frames, spec.fps
    r0 = scene["size"] * h * rng.uniform(0.85, 1.15)
    cx0, cy0 = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    drift = rng.normal(0, 2.0, 2)  # px/s, too slow to look like rising/falling
    period = rng.uniform(1.0, 1.6)  # blink / bounce period, seconds: slower than the
    # contract's sampling (8 frames, 0.27 s apart) can alias
    phase = rng.uniform(0, 1)
    # the distractor: a small grey blob wandering in any direction
    dpos = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    dvel = rng.normal(0, 8, 2)
    dr = max(2.0, h * rng.uniform(0.03, 0.05))
    noise_bank = rng.normal(0, scene["noise"], (8, h, w, 3)).astype(np.float32)
    frames = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        j = n - 1 - i if reverse else i  # a reversed class is its partner's scene played backwards
        t = j / fps
        u = j / max(n - 1, 1)
        canvas = scene["background"].copy()
        _draw(canvas, "circle", *(dpos + dvel * t) % (w, h), dr, (128, 128, 128))
        cx, cy, r, alpha = cx0 + drift[0] * t, cy0 + drift[1] * t, r0, 1.0
        if motion == "scale":
            r = r0 * (0.35 + 1.3 * u)
        elif motion == "fade":
            alpha = u
        elif motion == "vertical":  # Rising: bottom to top
            cy = h * (0.85 - 0.7 * u)
        elif motion == "blink":
            alpha = 1.0 if ((t / period + phase) % 1.0) < 0.5 else 0.0
        elif motion == "bounce":
            cy = h * 0.8 - h * 0.55 * abs(math.sin(math.pi * (t / period + phase)))
        if motion == "pair":  # Merging: two objects meet in the middle (mirror-symmetric)
            d = w * 0.34 * (1 - u)  # from the edges of the centre crop to one object
            _draw(canvas, scene["shape"], w / 2 - d, cy, r * 0.8, scene["color"])
            _draw(canvas, scene["shape"], w / 2 + d, cy, r * 0.8, scene["color"])
        else:
            _draw(canvas, scene["shape"], cx, cy, r, scene["color"], alpha)
        canvas *= scene["gain"]
        if scene["shake"] > 0:
            dx, dy = rng.normal(0, scene["shake"], 2)
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            canvas = cv2.warpAffine(canvas, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        canvas += noise_bank[i % len(noise_bank)]
        frames[i] = np.clip(canvas, 0, 255).astype(np.uint8)[:, :, ::-1]
    return frames


def write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    fourcc = "mp4v" if path.suffix == ".mp4" else "XVID"
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {fourcc} video to {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def _render_and_write(args) -> None:
    config, spec, root = args
    write_video(Path(root) / spec.path, render(config, spec), spec.fps)


# -- the API ------------------------------------------------------------------------------
def synthesize(out: str | os.PathLike, config: SynthConfig | None = None, *, progress=True) -> dict:
    """Write the dataset to `out` (which must not exist, or be an empty directory).

    The dataset is built in a temporary sibling directory and renamed into place at the end,
    so an interrupted run leaves nothing behind. Returns the manifest (also OUT/synth.json)."""
    config = config or SynthConfig()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} already exists and is not empty; choose a new OUT or delete it")
    atomic.check_writable_parent(out)
    specs = plan(config)
    started = time.perf_counter()
    if out.is_dir():
        out.rmdir()  # empty: replaced by the finished dataset
    with atomic.directory(out) as tmp:
        for split in SPLITS:
            for name in config.class_names():
                (tmp / split / name).mkdir(parents=True)
        jobs = [(config, spec, str(tmp)) for spec in specs]
        bar = _progress(len(jobs), "synth", progress)
        if config.workers > 1:
            with ProcessPoolExecutor(config.workers) as pool:
                for _ in pool.map(_render_and_write, jobs, chunksize=4):
                    bar.update()
        else:
            for job in jobs:
                _render_and_write(job)
                bar.update()
        bar.close()
        manifest = {
            "name": "videoedge-synth-ucf101",
            # totals as made (with --per-class they are per_class x classes, not the default)
            "config": {**{k: v for k, v in asdict(config).items() if k != "workers"},
                       "totals": [sum(v.split == s for v in specs) for s in SPLITS]},
            "classes": config.class_names(),
            "time_reversed_pairs": [p for p in TIME_REVERSED_PAIRS if p[1] in config.class_names()],
            "flip_invariant": config.class_names(),  # every class survives a horizontal flip
            "frame_size": list(config.size),
            "counts": {s: sum(v.split == s for v in specs) for s in SPLITS},
            "seconds": round(time.perf_counter() - started, 2),
            "videos": [asdict(v) for v in specs],
        }
        atomic.write_json(tmp / "synth.json", manifest)
    return manifest


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="video", disable=not enabled, leave=False)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size must look like 160x120, got {text!r}") from None
    return w, h


def parse_counts(text: str) -> tuple[int, int, int]:
    try:
        counts = tuple(int(x) for x in text.split(","))
    except ValueError:
        counts = ()
    if len(counts) != 3:
        raise UsageError(f"expected three counts TRAIN,VAL,TEST such as 30,3,8, got {text!r}")
    return counts


def describe(manifest: dict) -> str:
    c = manifest["counts"]
    return (f"{len(manifest['classes'])} classes, {c['train']} train / {c['val']} val / "
            f"{c['test']} test videos at {manifest['frame_size'][0]}x{manifest['frame_size'][1]} "
            f"in {manifest['seconds']:.1f} s; all classes distinct under horizontal flip")

