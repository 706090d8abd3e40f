"""End-to-end benchmark of the runtime: classify the synthetic test split from files with
`videoedge run`'s Python API (OpenCV decode + numpy preprocess + ONNX Runtime fp32), against
`transformers.pipeline("video-classification")` on the same model and the same videos; the
top-1 agreement with `videoedge evaluate` (PyTorch); and the live replay of a 60 s video
(capture-to-label lag p50/p95/max, frames dropped).

    python -m videoedge.benchmarks.e2e --data /tmp/ds [--model RUN/model] [--bundle BUNDLE]

Without --bundle the model is exported here by the export stage (fp32, with its parity check);
without --model a randomly initialised `tiny` preset is used (agreement and speed are still
like for like; accuracy is then chance level).
Results: benchmarks/results/e2e.json and e2e.md. Timings on a shared machine are noisy: the
load average is recorded with them; rerun on a quiet machine for clean figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


def tiny_model(labels: list[str], out: Path) -> Path:
    from videoedge.train.presets import PRESETS, new_model, save_model_dir

    return save_model_dir(new_model("tiny", labels), PRESETS["tiny"].contract(labels), out)


def test_files(data: Path, split: str) -> list[tuple[Path, str]]:
    root = data / split
    return [(f, c.name) for c in sorted(root.iterdir()) if c.is_dir()
            for f in sorted(c.iterdir()) if f.is_file()]


def bench_runtime(bundle: Path, files, clips: int, threads: int) -> dict:
    from videoedge.runtime.classifier import Classifier
    from videoedge.runtime.session import SessionConfig

    clf = Classifier(bundle, session_config=SessionConfig(device="cpu", threads=threads),
                     precision="fp32", notify=lambda line: None)
    clf.classify_file(files[0][0], clips=clips)  # warm-up
    preds, stages = {}, {"decode_ms": 0.0, "preprocess_ms": 0.0, "infer_ms": 0.0}
    t0 = time.perf_counter()
    for f, _ in files:
        r = clf.classify_file(f, clips=clips)
        preds[str(f)] = r.label
        for k, v in r.timings.to_dict().items():
            if k in stages:
                stages[k] += v
    wall = time.perf_counter() - t0
    return {"seconds": wall, "videos_per_s": len(files) / wall, "predictions": preds,
            "stage_ms_per_video": {k: v / len(files) for k, v in stages.items()},
            "device": clf.device}


def bench_pipeline(model_dir: Path, files, contract, threads: int) -> dict:
    import torch
    from transformers import (
        VideoClassificationPipeline,
        VideoMAEForVideoClassification,
        VideoMAEImageProcessor,
    )

    if threads:
        torch.set_num_threads(threads)
    # transformers 5 prefers a video processor that needs torchcodec + system FFmpeg; the
    # image-processor path decodes with PyAV and works here
    pipe = VideoClassificationPipeline(
        model=VideoMAEForVideoClassification.from_pretrained(model_dir).eval(),
        image_processor=VideoMAEImageProcessor.from_pretrained(model_dir))
    kw = dict(num_frames=contract.num_frames, frame_sampling_rate=contract.frame_stride,
              top_k=1)
    pipe(str(files[0][0]), **kw)  # warm-up
    preds, retried = {}, []
    t0 = time.perf_counter()
    for f, _ in files:
        try:
            preds[str(f)] = pipe(str(f), **kw)[0]["label"]
        except RuntimeError:
            # the pipeline samples frames 0..num_frames*rate-1 from the start and fails when
            # PyAV decodes fewer; retry with the largest rate that fits (the time counts)
            import av

            with av.open(str(f)) as c:
                n = sum(1 for _ in c.decode(video=0))
            rate = max(1, (n - 1) // contract.num_frames)
            preds[str(f)] = pipe(str(f), **{**kw, "frame_sampling_rate": rate})[0]["label"]
            retried.append(str(f))
    wall = time.perf_counter() - t0
    return {"seconds": wall, "videos_per_s": len(files) / wall, "predictions": preds,
            "retried": retried}


def live_replay(bundle: Path, files, seconds: float, work: Path, threads: int) -> dict:
    """Concatenate test videos into one `seconds`-long file, replay it with --live."""
    import cv2

    from videoedge.runtime.classifier import Classifier
    from videoedge.runtime.session import SessionConfig
    from videoedge.runtime.video import iter_frames

    path = work / "live60.avi"
    writer, n, i = None, 0, 0
    while n < seconds * 30:
        for _, rgb in iter_frames(files[i % len(files)][0]):
            if writer is None:
                h, w = rgb.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0,
                                         (w, h))
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            n += 1
        i += 1
    writer.release()
    clf = Classifier(bundle, session_config=SessionConfig(device="cpu", threads=threads),
                     precision="fp32", notify=lambda line: None)
    run = clf.stream(path, live=True)
    results = list(run)
    s = run.summary()
    s["video_seconds"] = round(n / 30, 2)
    s["infer_ms_p50"] = round(sorted(r.timings.infer_ms for r in results)[len(results) // 2], 2)
    return s


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/tmp/ds", help="synthetic dataset (videoedge data synth)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", help="model directory (RUN/model); default: random tiny")
    ap.add_argument("--bundle", help="bundle from `videoedge export`; default: exported here")
    ap.add_argument("--clips", type=int, default=1, help="clips per video (evaluate's --clips)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for both (0 = all)")
    ap.add_argument("--live-seconds", type=float, default=60.0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--note", action="append", default=[],
                    help="a line for the report, e.g. how --model was trained")
    args = ap.parse_args(argv)

    from videoedge.runtime.contract import Contract
    from videoedge.train.evaluate import evaluate_model

    data = Path(args.data)
    files = test_files(data, args.split)
    work = Path(tempfile.mkdtemp(prefix="videoedge-e2e-"))
    notes = list(args.note)
    model_dir = Path(args.model) if args.model else None
    if model_dir is None:
        labels = sorted(c.name for c in (data / "train").iterdir() if c.is_dir())
        model_dir = tiny_model(labels, work / "model")
        notes.append("model: randomly initialised `tiny` preset (no --model): accuracy is "
                     "chance level; speed and agreement are like for like")
    bundle = Path(args.bundle) if args.bundle else None
    if bundle is None:
        from videoedge.export.bundle import export_bundle
        from videoedge.export.config import ExportConfig

        bundle = work / "bundle"
        export_bundle(ExportConfig(model=model_dir, out=bundle, data=data))
        notes.append("bundle: fp32, written by the export stage (`videoedge export`) here")
    contract = Contract.load(model_dir)
    print(f"{len(files)} videos; load {load()}", file=sys.stderr)

    load_before = load()
    rt = bench_runtime(bundle, files, args.clips, args.threads)
    pipe = bench_pipeline(model_dir, files, contract, args.threads)
    rt2 = bench_runtime(bundle, files, args.clips, args.threads)  # interleaved: A B A
    rt_s = min(rt["seconds"], rt2["seconds"])
    ev = evaluate_model(model_dir, data, split=args.split, clips=args.clips, crops=1)
    load_after = load()
    truth = {str(f): c for f, c in files}
    ev_pred = {p["path"]: p["predicted"] for p in ev.predictions}
    acc = lambda preds: sum(preds[f] == truth[f] for f in preds) / len(preds)
    agree = sum(rt["predictions"][f] == ev_pred.get(f) for f in rt["predictions"])
    live = live_replay(bundle, files, args.live_seconds, work, args.threads)

    import numpy
    import onnxruntime
    import torch
    import transformers

    result = {
        "videos": len(files), "data": str(data), "split": args.split, "clips": args.clips,
        "model": str(model_dir), "bundle": str(bundle), "notes": notes,
        "runtime": {"seconds": round(rt_s, 3), "videos_per_s": round(len(files) / rt_s, 3),
                    "accuracy": acc(rt["predictions"]), "device": rt["device"],
                    "stage_ms_per_video": {k: round(v, 3)
                                           for k, v in rt["stage_ms_per_video"].items()}},
        "pipeline": {"seconds": round(pipe["seconds"], 3),
                     "videos_per_s": round(pipe["videos_per_s"], 3),
                     "accuracy": acc(pipe["predictions"]),
                     "sampling": "first num_frames x frame_stride frames (the pipeline's rule)",
                     "retried_with_smaller_rate": len(pipe["retried"])},
        "speedup": round(pipe["seconds"] / rt_s, 2),
        "evaluate": {"top1": ev.top1, "agreement_with_run": agree / len(files),
                     "agreeing": agree},
        "live": live,
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "load_before": load_before,
                    "load_after": load_after},
        "versions": {"python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
                     "torch": torch.__version__, "transformers": transformers.__version__,
                     "numpy": numpy.__version__},
        "command": "python -m videoedge.benchmarks.e2e " + " ".join(argv or sys.argv[1:]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from videoedge.runtime import atomic

    atomic.write_json(out / "e2e.json", result)
    atomic.write_text(out / "e2e.md", markdown(result))
    print(markdown(result))
    return 0


def _busy(machine: dict) -> str:
    """The 1-minute load before the run: above half the cores, someone else was working."""
    try:
        before = float(str(machine["load_before"]).split()[0])
    except ValueError:  # "n/a": no load average on this OS
        return "load unknown"
    if before > machine["cores"] / 2:
        return "a shared machine, figures are noisy"
    return "a quiet machine before the run (the load after includes the run itself)"


def markdown(r: dict) -> str:
    rt, pipe, live, ev = r["runtime"], r["pipeline"], r["live"], r["evaluate"]
    st = rt["stage_ms_per_video"]
    lines = [
        "# End-to-end: `videoedge run` vs `transformers.pipeline`", "",
        f"{r['videos']} videos ({r['data']}/{r['split']}), {r['clips']} centred clip(s) per "
        f"video, CPU ({r['machine']['cores']} cores, load {r['machine']['load_before']} -> "
        f"{r['machine']['load_after']}: {_busy(r['machine'])}).", "",
        "| | seconds | videos/s | top-1 accuracy |", "|---|---:|---:|---:|",
        f"| videoedge run (ORT fp32, OpenCV) | {rt['seconds']:.2f} | {rt['videos_per_s']:.2f} | "
        f"{rt['accuracy']:.2%} |",
        f"| transformers.pipeline (PyTorch, PyAV) | {pipe['seconds']:.2f} | "
        f"{pipe['videos_per_s']:.2f} | {pipe['accuracy']:.2%} |", "",
        f"The pipeline samples the first frames of each video (its own rule; "
        f"{pipe['retried_with_smaller_rate']} videos too short for it were retried with a "
        "smaller frame rate, timed); `run` samples one centred clip by timestamp, as "
        "`evaluate` does.", "",
        f"**Speed-up: {r['speedup']:.2f}x.** Runtime stages per video: decode "
        f"{st['decode_ms']:.1f} ms, preprocess {st['preprocess_ms']:.1f} ms, infer "
        f"{st['infer_ms']:.1f} ms.", "",
        f"Top-1 agreement of `videoedge run --clips {r['clips']}` (fp32 bundle) with "
        f"`videoedge evaluate` (PyTorch): **{ev['agreement_with_run']:.2%}** "
        f"({ev['agreeing']}/{r['videos']}); evaluate top-1 {ev['top1']:.2%}.", "",
        f"Live replay (`--live`) of a {live['video_seconds']} s video: {live['results']} "
        f"results, lag capture -> label p50 {live['lag_ms']['p50']:.0f} ms, p95 "
        f"{live['lag_ms']['p95']:.0f} ms, max {live['lag_ms']['max']:.0f} ms; "
        f"{live['frames_captured']} frames captured, {live['frames_dropped']} dropped "
        f"({live['frames_skipped_at_capture']} skipped at capture), {live['hops_skipped']} "
        f"hops skipped.", "",
    ]
    lines += [f"- {n}" for n in r["notes"]]
    lines += ["", f"Versions: {', '.join(f'{k} {v}' for k, v in r['versions'].items())}.",
              f"Rerun: `{r['command']}` (on a quiet machine for clean timings)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
