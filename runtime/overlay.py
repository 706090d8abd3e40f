"""Drawing results on frames, a window (--show) and an annotated video (--save).

opencv-python-headless (the default install) has no GUI: `--show` then fails at once with
the one line that fixes it. Annotated videos are written atomically (temp name, rename)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import UsageError

FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG",
                    ".mkv": "MJPG"}  # this OpenCV cannot write H.264
WINDOW = "videoedge"


def draw(frame: np.ndarray, top: list[tuple[str, float]], *, fps: float | None = None,
         latency_ms: float | None = None, note: str = "") -> np.ndarray:
    """A copy of the BGR frame with top-k bars, fps and latency drawn at the top left."""
    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    h, w = out.shape[:2]
    scale = max(0.35, min(w, h) / 600)
    thick = max(1, int(round(scale * 2)))
    line_h = int(22 * scale) + 4
    lines = [(f"{label} {score:.2f}", score) for label, score in top]
    status = []
    if fps is not None:
        status.append(f"{fps:.1f} fps")
    if latency_ms is not None:
        status.append(f"{latency_ms:.0f} ms")
    if note:
        status.append(note)
    if status:
        lines.append(("  ".join(status), None))
    box_w = min(w, int(260 * scale) + 10)
    overlay = out.copy()
    cv2.rectangle(overlay, (0, 0), (box_w, line_h * len(lines) + 6), (0, 0, 0), -1)
    out = cv2.addWeighted(overlay, 0.5, out, 0.5, 0)
    for i, (text, score) in enumerate(lines):
        y = line_h * (i + 1)
        if score is not None:
            cv2.rectangle(out, (4, y - line_h + 6), (4 + int((box_w - 8) * score), y + 2),
                          (0, 160, 0) if i == 0 else (90, 90, 90), -1)
        cv2.putText(out, text, (6, y - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    (255, 255, 255), thick, cv2.LINE_AA)
    return out


def gui_available() -> bool:
    info = cv2.getBuildInformation()
    gui = info.split("GUI:", 1)[1].splitlines()[0].strip() if "GUI:" in info else "NONE"
    return gui.upper() != "NONE"


def check_gui() -> None:
    if not gui_available():
        raise UsageError("--show needs an OpenCV with a GUI, and opencv-python-headless has "
                         "none: pip uninstall -y opencv-python-headless && pip install "
                         "opencv-python (or drop --show and use --save FILE.mp4)")


class Window:
    """`--show`: one window; `show()` returns False when the user pressed q or Esc."""

    def __init__(self):
        check_gui()
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)

    def show(self, frame: np.ndarray) -> bool:
        cv2.imshow(WINDOW, frame)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        cv2.destroyWindow(WINDOW)


class VideoSaver:
    """`--save FILE`: annotated frames at `fps`; the file appears complete at close()."""

    def __init__(self, path: str | os.PathLike, fps: float):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC_BY_SUFFIX:
            raise UsageError(f"--save {self.path}: use one of "
                             f"{', '.join(sorted(FOURCC_BY_SUFFIX))} (H.264 is not available "
                             "in this OpenCV; .mp4 is written as MPEG-4 part 2)")
        from .atomic import check_writable_parent

        check_writable_parent(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps if fps > 0 else 30.0
        self.fourcc = FOURCC_BY_SUFFIX[suffix]
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self.writer is None:
            self.size = (w, h)
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*self.fourcc),
                                          self.fps, self.size)
            if not self.writer.isOpened():
                raise UsageError(f"--save {self.path}: OpenCV cannot write {self.fourcc} video "
                                 "here; try a .avi name")
        if (w, h) != self.size:  # a stream that changed resolution mid-way
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(frame)
        self.frames += 1

    def close(self) -> Path | None:
        """Finish the file and rename it into place; None when no frame was written."""
        if self.writer is None:
            return None
        self.writer.release()
        self.writer = None
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        if self.tmp.exists():
            self.tmp.unlink()
