"""`videoedge run BUNDLE SOURCE...`: the thin command over `Classifier`.

Files (and folders, globs) are classified whole: a timeline of clips and a file-level top-k,
one line each on stdout and one JSONL record each with --json; a batch goes on past bad files
and lists them at the end (exit 1). Cameras, URLs and files with --live are classified live:
a result every hop, smoothed, with label start/end events; the JSONL ends with a summary of
dropped frames and capture-to-label lag."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="classify files, folders, cameras and streams with an exported bundle",
        description="Classify videos with a bundle from `videoedge export`. SOURCE: a video "
        "file, a folder or glob (batch), a camera index (0), or an rtsp:// / http:// URL.")
    p.add_argument("bundle", metavar="BUNDLE", help="bundle directory (or one .onnx file)")
    p.add_argument("sources", metavar="SOURCE", nargs="+")
    g = p.add_argument_group("model")
    g.add_argument("--device", default="auto", choices=("auto", "tensorrt", "cuda", "cpu"),
                   help="auto tries TensorRT, CUDA, then CPU and says when it fell back; an "
                   "explicit GPU device that cannot be used is an error (default auto)")
    g.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "int8"),
                   help="which model file of the bundle; auto = fp16 on a GPU if present, "
                   "else fp32")
    g.add_argument("--threads", type=int, default=0, help="CPU threads for inference (0 = all)")
    g = p.add_argument_group("sampling")
    g.add_argument("--hop", type=float, default=None, metavar="SECONDS",
                   help="seconds between clips (files: default half a clip; live: default "
                   "min(0.5 s, half a clip))")
    g.add_argument("--clips", type=int, default=None, metavar="N",
                   help="files: N clips spread evenly instead of a hop; the sampling of "
                   "`videoedge evaluate --clips N` (N=1: one centred clip)")
    g.add_argument("--top-k", type=int, default=5, metavar="K", help="labels reported (5)")
    g.add_argument("--batch-size", type=int, default=4, help="files: clips per inference (4)")
    g = p.add_argument_group("live")
    g.add_argument("--live", action="store_true",
                   help="replay files as if live: at their own fps, in real time, dropping "
                   "frames when inference is slower")
    g.add_argument("--smoothing", default="ema", metavar="METHOD",
                   help="live score smoothing: ema[:ALPHA] (default ema:0.5), mean[:N], none")
    g.add_argument("--event-on", type=float, default=0.6,
                   help="smoothed score at which a label event starts (0.6)")
    g.add_argument("--event-off", type=float, default=0.4,
                   help="smoothed score below which it ends (0.4)")
    g.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="streams: a read silent this long is a lost connection (5)")
    g.add_argument("--reconnects", type=int, default=5, metavar="N",
                   help="streams: reopen attempts after a loss, with backoff, then fail (5)")
    g.add_argument("--max-seconds", type=float, default=None,
                   help="live: stop after this many seconds")
    g = p.add_argument_group("output")
    g.add_argument("--json", metavar="FILE.jsonl", help="write results as JSON lines")
    g.add_argument("--show", action="store_true", help="show a window with top-k, fps, latency")
    g.add_argument("--save", metavar="FILE", help="write an annotated video (.mp4, .avi)")
    g.add_argument("--quiet", action="store_true", help="no progress bar, no per-result lines")
    p.set_defaults(handler=main, extra=None)


def main(args) -> int:
    from .bundle import choose_file
    from .classifier import Classifier, FileSampling
    from .errors import UsageError
    from .events import EventConfig
    from .session import SessionConfig
    from .smoothing import SmoothingConfig
    from .sources import resolve
    from .stream import StreamConfig

    choose_file(args.bundle, args.precision)  # a wrong bundle path: say so before anything else
    sources = resolve(args.sources)
    live = [s for s in sources if s.live or args.live]
    if args.save and len(sources) > 1:
        raise UsageError("--save writes one video: give one SOURCE, or drop --save")
    if args.show:
        from .overlay import check_gui

        check_gui()
    if args.clips and live:
        raise UsageError("--clips samples whole files; it does not apply to live sources")
    sampling = FileSampling(hop_seconds=args.hop, clips=args.clips,
                            batch_size=args.batch_size, top_k=args.top_k)
    stream_config = StreamConfig(
        hop_seconds=args.hop, top_k=args.top_k, smoothing=SmoothingConfig.parse(args.smoothing),
        events=EventConfig(on=args.event_on, off=args.event_off), read_timeout_s=args.timeout,
        reconnect_attempts=args.reconnects, max_seconds=args.max_seconds,
        keep_frames=bool(args.show or args.save))
    clf = Classifier(args.bundle, precision=args.precision,
                     session_config=SessionConfig(device=args.device, threads=args.threads))
    from .jsonl import JsonlWriter

    failed: list[tuple[str, str]] = []
    with JsonlWriter(args.json, atomic=not live) as out:
        out.write({"type": "run", **clf.describe()})
        files = [s for s in sources if not (s.live or args.live)]
        if files:
            failed += _run_files(clf, files, sampling, out, args)
        for source in live:
            failed += _run_live(clf, source, stream_config, out, args)
    if failed:
        print(f"videoedge: {len(failed)} of {len(sources)} source(s) failed:", file=sys.stderr)
        for name, why in failed:
            print(f"  {name}: {why}", file=sys.stderr)
        return 1
    return 0


# -- files ---------------------------------------------------------------------------------
def _run_files(clf, files, sampling, out, args) -> list[tuple[str, str]]:
    from tqdm import tqdm

    failed = []
    bar = tqdm(total=len(files), unit="video", desc="classifying", file=sys.stderr,
               disable=args.quiet or len(files) < 2, dynamic_ncols=True)
    say = bar.write if not bar.disable else print
    try:
        for path, result in clf.classify_files([s.value for s in files], sampling):
            bar.update(1)
            if isinstance(result, Exception):
                failed.append((path, str(result)))
                out.write({"type": "error", "source": path, "error": str(result)})
                if not args.quiet:
                    say(f"{path}: FAILED: {result}")
                continue
            out.write(result.to_dict())
            if not args.quiet:
                alts = ", ".join(f"{lbl} {s:.2f}" for lbl, s in result.top[1:3])
                say(f"{path}: {result.label} {result.score:.2f} ({alts}) "
                    f"[{len(result.clips)} clip{'s' if len(result.clips) != 1 else ''}, "
                    f"{result.wall_ms:.0f} ms]" + (f" note: {result.note}" if result.note else ""))
            if args.save or args.show:
                _annotate_file(clf, result, args)
    finally:
        bar.close()
    return failed


def _annotate_file(clf, result, args) -> None:
    """Second pass over a classified file: each frame with the newest clip covering it."""
    import cv2

    from .overlay import VideoSaver, Window, draw
    from .video import iter_frames

    saver = VideoSaver(args.save, result.fps) if args.save else None
    window = Window() if args.show else None
    clips = result.clips
    try:
        for t, rgb in iter_frames(result.source):
            covering = [c for c in clips if c.start - 1e-6 <= t < c.end] or clips[-1:]
            clip = covering[-1]
            frame = draw(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), clip.top[: args.top_k],
                         latency_ms=clip.latency_ms, note=f"{t:.1f} s")
            if saver:
                saver.write(frame)
            if window and not window.show(frame):
                break
    finally:
        if saver:
            saver.close()
        if window:
            window.close()


# -- live ----------------------------------------------------------------------------------
def _run_live(clf, source, config, out, args) -> list[tuple[str, str]]:
    from .errors import SourceError
    from .overlay import VideoSaver, Window, draw

    def notice(record: dict) -> None:
        out.write(record)
        if not args.quiet:
            print(_describe_notice(record), file=sys.stderr)

    run = clf.stream(source, live=True, config=config, on_notice=notice)
    saver = VideoSaver(args.save, run.capture.fps) if args.save else None
    window = Window() if args.show else None
    written_seq = -1
    try:
        for r in run:
            out.write(r.to_dict())
            for event in r.events:
                notice(event)
            if not args.quiet:
                print(f"{r.end:7.2f} s  {r.label} {r.score:.2f}  smoothed {r.smoothed[0][0]} "
                      f"{r.smoothed[0][1]:.2f}  lag {r.latency_ms:.0f} ms  "
                      f"dropped {r.frames_dropped}")
            if saver is not None:  # every frame since the last result, with this label
                for f in run.capture.ring.since(written_seq):
                    saver.write(draw(f.bgr, r.smoothed, fps=r.fps, latency_ms=r.latency_ms))
                    written_seq = f.seq
            if window is not None and r.frame is not None:
                if not window.show(draw(r.frame, r.smoothed, fps=r.fps,
                                        latency_ms=r.latency_ms)):
                    break
    except SourceError as e:
        out.write({"type": "error", "source": str(source), "error": str(e)})
        out.write(run.summary())
        if run.results == 0 and not run.capture.captured:
            raise  # never started: the command could not start (exit 2)
        return [(str(source), str(e))]
    finally:
        if saver is not None:
            saver.close()
        if window is not None:
            window.close()
    summary = run.summary()
    out.write(summary)
    if not args.quiet:
        lag = summary["lag_ms"]
        print(f"{source}: {summary['results']} results, {summary['frames_captured']} frames, "
              f"{summary['frames_dropped']} dropped; lag p95 {lag['p95']:.0f} ms, max "
              f"{lag['max']:.0f} ms", file=sys.stderr)
    return []


def _describe_notice(record: dict) -> str:
    kind = record.get("type")
    if kind == "event":
        return f"event: {record['label']} {record['event']} at {record['t']:.2f} s"
    if kind == "reconnect":
        return (f"{record['source']}: connection lost; reconnect {record['attempt']}/"
                f"{record['of']} in {record['wait_s']:.1f} s")
    if kind == "reconnected":
        return f"{record['source']}: reconnected"
    return str(record)
