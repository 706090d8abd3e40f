"""videoedge.runtime: the torch-free base layer (numpy, OpenCV, ONNX Runtime).

Holds the contract, the numpy preprocessing every stage shares, and the classifier that
runs exported bundles. Importing it never imports torch (a test checks `sys.modules`).
"""

import os as _os

# We report unreadable videos in one line of our own; OpenCV's and FFmpeg's own console
# chatter (including raw header bytes from OpenCV's MJPEG-AVI reader) would bury it. Set
# before cv2 is first imported; a user's own setting wins.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

from .contract import CONTRACT_FILENAME, METADATA_KEY, Contract  # noqa: E402
from .errors import (
    BatchError,
    ContractError,
    DataError,
    MissingExtraError,
    ParityError,
    SourceError,
    UsageError,
    VideoedgeError,
)

__version__ = "0.1.0"

# imported on first use, so `import videoedge.runtime` (and the CLI) stays light
_LAZY = {"Classifier": "classifier", "FileSampling": "classifier", "StreamConfig": "stream",
         "SessionConfig": "session", "DeviceError": "session"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CONTRACT_FILENAME", "METADATA_KEY", "Contract", "BatchError", "ContractError", "DataError",
    "MissingExtraError", "ParityError", "SourceError", "UsageError", "VideoedgeError",
    "Classifier", "FileSampling", "StreamConfig", "SessionConfig", "DeviceError",
]
