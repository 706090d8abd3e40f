"""`videoedge export`: a thin layer over `videoedge.export.export_bundle`.

Only argparse at module level; the handler imports the stage when it runs."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  videoedge export run/model --out bundle                       fp32, parity on data in run/metrics.json
  videoedge export run/model --out bundle --fp16 --int8 dynamic --data data
  videoedge export run/model --out bundle --int8 static --calib data --data data

exit status: 0 bundle written; 1 a variant failed parity (BUNDLE left unchanged, report in
BUNDLE.parity-failed/); 2 bad input (nothing written)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a trained model to an ONNX bundle and check its parity",
        description="Export MODEL (a videoedge model directory) to BUNDLE: model.onnx (fp32) "
        "and optionally model.fp16.onnx and model.int8.onnx, each checked against PyTorch on "
        "real held-out clips; writes videoedge.json, parity.json and parity.md. The bundle "
        "replaces BUNDLE only when every variant passes.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="model directory (RUN/model from `videoedge train`)")
    p.add_argument("--out", required=True, metavar="BUNDLE", help="bundle directory to write")
    p.add_argument("--fp16", action="store_true", help="also write model.fp16.onnx (for GPUs)")
    p.add_argument("--int8", choices=("dynamic", "static"), nargs="?", const="dynamic",
                   default=None, help="also write model.int8.onnx: dynamic (the default: no "
                   "data needed) or static QDQ (calibrated on --calib DATA)")
    p.add_argument("--calib", metavar="DATA", default=None,
                   help="dataset whose train/ clips calibrate --int8 static")
    p.add_argument("--calib-clips", type=int, default=32, metavar="N",
                   help="calibration clips, decoded one at a time (default 32)")
    p.add_argument("--opset", type=int, default=18, metavar="N", help="ONNX opset (default 18)")
    p.add_argument("--data", metavar="DATA", default=None,
                   help="dataset for the parity check (default: the one in RUN/metrics.json)")
    p.add_argument("--split", default="test", choices=("test", "val", "train"),
                   help="held-out split of --data for parity (default test)")
    p.add_argument("--clips-per-video", type=int, default=2, metavar="N",
                   help="parity clips spread over each video (default 2)")
    p.add_argument("--max-clips", type=int, default=96, metavar="N",
                   help="parity clips at most, classes round-robin (default 96)")
    p.add_argument("--quiet", action="store_true", help="no per-step lines")
    p.set_defaults(handler=_export, extra="export")


def _export(args) -> int:
    from .bundle import export_bundle
    from .config import ExportConfig

    config = ExportConfig(
        model=args.model, out=args.out, fp16=args.fp16, int8=args.int8, calib=args.calib,
        calib_clips=args.calib_clips, opset=args.opset, data=args.data, split=args.split,
        clips_per_video=args.clips_per_video, max_clips=args.max_clips,
    )
    result = export_bundle(config, echo=not args.quiet)
    clips = result.report["clips"]["count"]
    print(f"wrote {result.out} (parity on {clips} clips, all variants passed):")
    for v in result.report["variants"]:
        print(f"  {v['file']:<16} {v['precision']:<11} {v['size_mb']:8.1f} MB  "
              f"max abs {v['max_abs']:.1e}  agreement {v['agreement']:.1%}  "
              f"accuracy {v['accuracy']:.1%} (PyTorch {v['accuracy_torch']:.1%})")
    return 0
