"""videoedge.runtime: the torch-free base layer (numpy, OpenCV, ONNX Runtime).

Holds the contract, the numpy preprocessing every stage shares, and the classifier that
runs exported bundles. Importing it never imports torch (a test checks `sys.modules`).
"""

from .contract import CONTRACT_FILENAME, METADATA_KEY, Contract
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

__all__ = [
    "CONTRACT_FILENAME", "METADATA_KEY", "Contract", "BatchError", "ContractError", "DataError",
    "MissingExtraError", "ParityError", "SourceError", "UsageError", "VideoedgeError",
]
