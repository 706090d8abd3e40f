"""What a SOURCE argument names: a file, a folder or glob (a batch), a camera index, or a
network stream URL. Resolved before any work starts, so a typo is exit 2 at once."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

VIDEO_EXTENSIONS = {".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                    ".flv", ".ts", ".3gp", ".mjpeg", ".mjpg", ".ogv"}
URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")


@dataclass(frozen=True)
class Source:
    kind: str  # "file" | "camera" | "url"
    value: str  # the path, the camera index as text, or the URL
    origin: str = ""  # the argument it came from (a folder or glob for batch files)

    @property
    def live(self) -> bool:
        return self.kind in ("camera", "url")

    def __str__(self) -> str:
        return f"camera {self.value}" if self.kind == "camera" else self.value


def is_url(text: str) -> bool:
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in URL_SCHEMES


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def videos_in(folder: Path) -> list[Path]:
    """Video files under `folder`, recursively, sorted; unreadable subfolders are an error."""
    found: list[Path] = []

    def fail(err: OSError):
        raise UsageError(f"cannot read folder {err.filename}: {err.strerror}; check its "
                         "permissions")

    for root, dirs, files in os.walk(folder, onerror=fail):
        dirs.sort()
        found += [Path(root) / f for f in sorted(files) if is_video(Path(f))]
    return found


def resolve(arguments: list[str]) -> list[Source]:
    """SOURCE arguments -> sources, in order; folders and globs expand to their videos."""
    out: list[Source] = []
    for arg in arguments:
        text = str(arg)
        if text.isdigit():
            out.append(Source("camera", text, text))
        elif is_url(text):
            out.append(Source("url", text, text))
        elif "://" in text:
            raise UsageError(f"{text}: unsupported URL scheme; use one of "
                             f"{', '.join(URL_SCHEMES)}")
        elif Path(text).is_dir():
            files = videos_in(Path(text))
            if not files:
                raise UsageError(f"{text}: folder has no videos ({', '.join(sorted(VIDEO_EXTENSIONS))})")
            out += [Source("file", str(f), text) for f in files]
        elif Path(text).exists():
            out.append(Source("file", text, text))
        elif glob.has_magic(text):
            files = sorted(Path(p) for p in glob.glob(text, recursive=True))
            files = [f for f in files if f.is_file() and is_video(f)]
            if not files:
                raise UsageError(f"{text}: the pattern matches no video files")
            out += [Source("file", str(f), text) for f in files]
        else:
            raise UsageError(f"{text}: no such file, folder, camera index or URL")
    return out
