"""Typed errors. Each subclasses a built-in, carries a message a user can act on, and knows
the exit status the command line gives it (DESIGN.md: 1 = the work ran and something failed,
2 = the command could not start)."""


class VideoedgeError(Exception):
    """Base class. `str(err)` is the one line the CLI prints."""

    exit_code = 2


class UsageError(VideoedgeError, ValueError):
    """Bad arguments or input paths: the command could not start."""


class MissingExtraError(VideoedgeError, ImportError):
    """A subcommand needs an optional dependency group that is not installed."""

    def __init__(self, extra: str, module: str):
        super().__init__(
            f"`{module}` is not installed; this command needs it: pip install 'videoedge[{extra}]'"
        )
        self.extra = extra


class ContractError(VideoedgeError, ValueError):
    """A model, bundle or contract is missing, malformed or inconsistent."""


class SourceError(VideoedgeError, OSError):
    """A video file, folder, camera or stream cannot be opened or read."""


class DataError(VideoedgeError, ValueError):
    """A dataset folder is missing, empty or malformed."""


class ParityError(VideoedgeError, RuntimeError):
    """An exported variant is over its parity limit: the work ran and failed."""

    exit_code = 1


class BatchError(VideoedgeError, RuntimeError):
    """Some items of a batch failed; the rest were processed and written."""

    exit_code = 1
