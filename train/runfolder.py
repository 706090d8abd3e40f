"""The run folder both training commands write: RUN.partial/ while training (checkpoints,
live metrics, run.json to check `--resume` against), RUN/ once everything is written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from videoedge.runtime import atomic
from videoedge.runtime.errors import UsageError

WORK_SUFFIX = ".partial"


def work_dir(out: Path) -> Path:
    return out.with_name(out.name + WORK_SUFFIX)


def begin(config) -> tuple[Path, Path, bool]:
    """-> (RUN, RUN.partial, is this the main process). The main process checks the paths
    before anything loads; under torchrun every process then joins the group."""
    from . import distributed

    out = Path(config.out)
    main = distributed.is_main()
    if main:
        check_paths(out, overwrite=config.overwrite, resume=config.resume)
    distributed.start()
    return out, work_dir(out), main


def check_paths(out: Path, *, overwrite: bool, resume: bool) -> None:
    work = work_dir(out)
    if out.exists() and not overwrite:
        raise UsageError(f"{out} already exists; choose a new --out or pass --overwrite")
    if work.exists() and not resume:
        raise UsageError(f"{work} holds an interrupted run; pass --resume to continue it, "
                         "or delete it to start over")
    if resume and not work.is_dir():
        raise UsageError(f"nothing to resume: {work} does not exist (it holds the checkpoints "
                         "of an interrupted run)")
    atomic.check_writable_parent(out)


def prepare(work: Path, run_info: dict, resume: bool, must_match: tuple[str, ...]) -> Path | None:
    """Create RUN.partial/, or check it was started with the same `must_match` settings and
    return its last checkpoint."""
    info_file = work / "run.json"
    if not resume:
        work.mkdir(parents=True)
        atomic.write_json(info_file, run_info)
        return None
    saved = json.loads(info_file.read_text()) if info_file.is_file() else {}
    differ = [k for k in must_match if saved.get(k) != run_info[k]]
    if differ:
        raise UsageError(f"--resume: {work} was started with different {', '.join(differ)}; "
                         "rerun with the same inputs, --model and settings")
    last = last_checkpoint(work)
    if last is None:
        raise UsageError(f"--resume: {work} has no checkpoint yet (it stopped in the first "
                         "epoch); delete it and start over")
    return last


def last_checkpoint(work: Path) -> Path | None:
    ckpts = sorted(work.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return ckpts[-1] if ckpts else None


def warn(message: str, sink: list[str]) -> None:
    sink.append(message)
    print(f"videoedge: warning: {message}", file=sys.stderr, flush=True)


def versions() -> dict:
    import torch
    import transformers

    from videoedge.runtime import __version__

    return {"videoedge": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__}
