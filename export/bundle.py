"""`export_bundle(ExportConfig)`: a model directory in, a checked bundle out.

    BUNDLE/model.onnx         fp32, dynamic batch, contract in metadata_props["videoedge"]
    BUNDLE/model.fp16.onnx    (--fp16) fp16 weights, fp32 inputs and outputs
    BUNDLE/model.int8.onnx    (--int8) dynamic int8, or static QDQ int8
    BUNDLE/videoedge.json     the contract, plus "files": the precision of each file
    BUNDLE/parity.json        every variant's parity figures, limits, steps (time, memory)
    BUNDLE/parity.md          the same as a table

Order: check every input first (cheap, before anything is written or loaded), then export,
convert and check parity of each variant inside a temporary directory beside BUNDLE. Only a
bundle whose every variant passed replaces BUNDLE (one rename). A parity failure leaves
BUNDLE as it was, writes the report to BUNDLE.parity-failed/ and raises one ParityError
naming every failing variant and figure (exit 1)."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from videoedge.runtime import atomic
from videoedge.runtime.contract import CONTRACT_FILENAME, Contract
from videoedge.runtime.errors import ParityError, UsageError

from .config import ExportConfig
from .steps import StepLog

BUNDLE_FILES = ("model.onnx", "model.fp16.onnx", "model.int8.onnx", CONTRACT_FILENAME,
                "parity.json", "parity.md")
FAILED_SUFFIX = ".parity-failed"


@dataclass
class ExportResult:
    out: Path  # the bundle directory
    files: dict[str, str]  # ONNX file name -> precision
    report: dict  # the parity.json object
    steps: list[dict] = field(default_factory=list)  # per step: name, seconds, peak_rss_mb

    @property
    def passed(self) -> bool:
        return bool(self.report.get("passed"))


def export_bundle(config: ExportConfig, *, echo: bool = False) -> ExportResult:
    """Export, convert, check parity, and write the bundle atomically. See module docstring."""
    from . import clips as clipsmod
    from .model_dir import check_model_dir

    log = StepLog(echo=echo)
    # -- 1. inputs, all checked before any heavy work --------------------------------------
    contract = check_model_dir(config.model)
    _check_out(config.out)
    data = resolve_parity_data(config)
    parity_dir = clipsmod.split_dir(data, config.split, flag="--data")
    clipsmod.list_videos(parity_dir, contract, flag="--data")  # labels match the model
    calib = None
    if config.int8 == "static":
        calib = clipsmod.calibration_clips(config.calib, contract, config.calib_clips)

    # -- 2. the reference: PyTorch on real held-out clips ----------------------------------
    from .model_dir import load_model
    from .parity import compare, failures, onnx_logits, torch_logits

    with log.step("load PyTorch model"):
        model = load_model(config.model)
    with log.step("decode parity clips"):
        clips = clipsmod.parity_clips(data, config.split, contract,
                                      clips_per_video=config.clips_per_video,
                                      max_clips=config.max_clips)
    with log.step("parity PyTorch"):
        reference, torch_seconds = torch_logits(model, clips.pixel_values, config.batch_size)

    contract = _export_contract(contract, config)
    report = _report_header(config, clips, torch_seconds)
    files: dict[str, str] = {}
    all_failures: list[str] = []
    with atomic.directory(config.out, replace=True) as tmp:
        # -- 3. each variant: write it, check it -------------------------------------------
        for name, precision in config.variants():
            path = tmp / name
            with log.step(f"write {precision}"):
                _write_variant(precision, model, contract, tmp / "model.onnx", path, config,
                               calib, report)
            if precision == "fp32":
                model = None  # the torch weights are not needed any more: free them
            with log.step(f"parity {precision}"):
                logits, seconds = onnx_logits(path, clips.pixel_values, config.batch_size,
                                              contract.input_name)
            figures = compare(name, precision, reference, logits, clips.labels, seconds)
            problems = failures(figures, config.limits[precision])
            all_failures += problems
            entry = figures.to_dict()
            entry.update(size_mb=round(_size(path) / 1e6, 2), passed=not problems)
            report["variants"].append(entry)
            files[name] = precision
        # -- 4. the report; only a fully passing bundle replaces BUNDLE --------------------
        report["failures"] = all_failures
        report["passed"] = not all_failures
        report["steps"] = log.to_list()
        report["peak_rss_mb"] = log.peak_rss_mb
        if all_failures:
            where = _write_failed_report(config.out, report)
            failed = [v["precision"] for v in report["variants"] if not v["passed"]]
            raise ParityError(
                f"export failed parity, {config.out} left unchanged: " + "; ".join(all_failures)
                + f" (report: {where / 'parity.md'}; {_hint(failed)})")
        _write_reports(tmp, contract, files, report)
        _make_readable(tmp)
    shutil.rmtree(_failed_dir(config.out), ignore_errors=True)  # a stale failure report
    return ExportResult(config.out, files, report, log.to_list())


# -- inputs -------------------------------------------------------------------------------
def _check_out(out: Path) -> None:
    """BUNDLE must be writable, and if it exists, be a videoedge bundle (never wipe a folder
    the user keeps other things in)."""
    atomic.check_writable_parent(out)
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"--out {out} is a file; pass a directory for the bundle")
        entries = [p.name for p in out.iterdir()]
        foreign = [n for n in entries if n not in BUNDLE_FILES and not n.endswith(".onnx.data")]
        if foreign:
            raise UsageError(
                f"--out {out} exists and is not a videoedge bundle (it holds {foreign[0]!r}"
                f"{' and more' if len(foreign) > 1 else ''}); pass a new or bundle directory")
        if not os.access(out.parent, os.W_OK):
            raise UsageError(f"cannot replace {out}: {out.parent} is not writable")


METRICS_DATA_KEYS = ("data", "dataset", "data_dir", "data_root")


def resolve_parity_data(config: ExportConfig) -> Path:
    """--data, else the dataset the training run recorded in RUN/metrics.json."""
    if config.data is not None:
        if not config.data.is_dir():
            raise UsageError(f"--data {config.data}: no such dataset folder")
        return config.data
    from .model_dir import run_metrics

    metrics = run_metrics(config.model) or {}
    sections = [metrics] + [metrics[k] for k in ("config", "args", "train") if
                            isinstance(metrics.get(k), dict)]
    for section in sections:
        for key in METRICS_DATA_KEYS:
            value = section.get(key)
            if isinstance(value, str) and value:
                path = Path(value)
                if not path.is_absolute():  # relative to the run folder
                    path = (config.model.resolve().parent / path)
                if path.is_dir():
                    return path
                raise UsageError(
                    f"the training run recorded dataset {value!r}, which no longer exists; "
                    "pass --data DATA (a folder with a test/ or val/ split)")
    raise UsageError(
        "parity needs held-out clips and no dataset is recorded next to the model "
        f"({config.model.resolve().parent / 'metrics.json'}); pass --data DATA (a folder with "
        "a test/ or val/ split)")


# -- variants -----------------------------------------------------------------------------
def _write_variant(precision: str, model, contract: Contract, fp32_path: Path, path: Path,
                   config: ExportConfig, calib, report: dict) -> None:
    from . import onnx as onnxmod
    from . import quantize

    if precision == "fp32":
        onnxmod.export_fp32(model, contract, path, opset=config.opset)
    elif precision == "fp16":
        quantize.to_fp16(fp32_path, contract, path)
    elif precision == "int8":
        quantize.to_int8_dynamic(fp32_path, contract, path)
    elif precision == "int8-static":
        _, seen = quantize.to_int8_static(fp32_path, contract, path, calib)
        report["calibration"] = {"data": str(config.calib), "clips": seen,
                                 "method": "MinMax, one clip per inference",
                                 "op_types": list(quantize.INT8_OP_TYPES)}
    else:  # the config only produces the precisions above
        raise ValueError(f"unknown precision {precision!r}")


def _export_contract(contract: Contract, config: ExportConfig) -> Contract:
    """The contract the bundle carries: the model's, plus the exporter's versions."""
    import onnx
    import onnxruntime
    import torch
    import transformers

    from videoedge.runtime import __version__

    versions = dict(contract.versions)
    versions.update(videoedge=__version__, exporter="torch.onnx.export (dynamo)",
                    torch=torch.__version__, transformers=transformers.__version__,
                    onnx=onnx.__version__, onnxruntime=onnxruntime.__version__,
                    opset=str(config.opset))
    return contract.replace(versions=versions, precision="fp32",
                            source=contract.source or str(config.model.resolve()))


# -- reports ------------------------------------------------------------------------------
def _report_header(config: ExportConfig, clips, torch_seconds: float) -> dict:
    return {
        "model": str(config.model.resolve()),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "clips": {"count": len(clips), "split_dir": str(clips.split_dir),
                  "videos": len(set(clips.videos)), "clips_per_video": config.clips_per_video,
                  "batch_size": config.batch_size},
        "torch_seconds": round(torch_seconds, 3),
        "limits": {p: config.limits[p].as_dict() for _, p in config.variants()},
        "variants": [],
    }


def _write_reports(directory: Path, contract: Contract, files: dict, report: dict) -> None:
    from .parity import render_markdown

    bundle_contract = contract.to_dict()
    bundle_contract["files"] = dict(files)  # precision of each file (extra key: ignored on load)
    atomic.write_json(directory / CONTRACT_FILENAME, bundle_contract)
    atomic.write_json(directory / "parity.json", report)
    atomic.write_text(directory / "parity.md", render_markdown(report))


def _hint(failed: list[str]) -> str:
    """The next thing to try for the variants that failed."""
    if "fp32" in failed:
        return ("fp32 must match PyTorch: please report it with the model's config.json and "
                "parity.json")
    hints = []
    if "fp16" in failed:
        hints.append("drop --fp16 (fp16 is for GPUs)")
    if "int8" in failed:
        hints.append("try --int8 static --calib DATA, or drop --int8")
    if "int8-static" in failed:
        hints.append("try more --calib-clips, or --int8 dynamic")
    hints.append("more parity clips (--clips-per-video) measure agreement more finely")
    return "; ".join(hints)


def _make_readable(directory: Path) -> None:
    """Temp dirs and files are created private (0700/0600); a bundle is for sharing."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(directory, 0o777 & ~umask)
    for p in directory.iterdir():
        os.chmod(p, 0o666 & ~umask)


def _failed_dir(out: Path) -> Path:
    return out.parent / f"{out.name}{FAILED_SUFFIX}"


def _write_failed_report(out: Path, report: dict) -> Path:
    from .parity import render_markdown

    where = _failed_dir(out)
    with atomic.directory(where, replace=True) as tmp:
        atomic.write_json(tmp / "parity.json", report)
        atomic.write_text(tmp / "parity.md", render_markdown(report))
        _make_readable(tmp)
    return where


def _size(path: Path) -> int:
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)
