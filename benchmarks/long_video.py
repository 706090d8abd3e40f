"""Peak memory of classifying long videos: frames are streamed, never all held.

    python benchmarks/long_video.py --bundle demo-out/bundle [--minutes 1 10] [--size 640x480]

Writes a synthetic video of each length (MJPG, 30 fps), classifies it with `videoedge run`
in a fresh process, and records that process's peak RSS (VmHWM) and wall time. Results go to
benchmarks/results/long_video.{json,md}. Bounded memory means: the 10-minute peak is about
the 1-minute peak, not ten times it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent


def write_long_video(path: Path, minutes: float, size: tuple[int, int], fps: float = 30.0):
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"cannot write {path}")
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 255, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
    base = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)  # compresses like video
    n = int(minutes * 60 * fps)
    for i in range(n):
        frame = base.copy()
        y = int((h - 1) * (0.5 + 0.5 * np.sin(i / fps)))
        frame[max(0, y - 8): y + 8] = 255
        writer.write(frame)
    writer.release()
    return n


def classify_in_child(bundle: Path, video: Path, out: Path) -> dict:
    """`videoedge run` in its own process; its peak RSS from the kernel (ru_maxrss, KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "videoedge.runtime.cli", "run", str(bundle),
                           str(video), "--device", "cpu", "--quiet", "--json", str(out)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"videoedge run failed: {proc.stderr.strip()}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        raise RuntimeError("a previous child had a higher peak; run one length per process")
    result = [json.loads(line) for line in out.read_text().splitlines()][-1]
    return {"peak_rss_mb": round(peak / 1024, 1), "wall_s": round(wall, 1),
            "clips": len(result.get("clips", [])), "label": result.get("label")}


def measure_one(bundle: Path, minutes: float, size) -> dict:
    with tempfile.TemporaryDirectory(prefix="videoedge-long-") as tmp:
        video = Path(tmp) / f"long_{minutes:g}min.avi"
        frames = write_long_video(video, minutes, size)
        row = {"minutes": minutes, "frames": frames, "size": f"{size[0]}x{size[1]}",
               "file_mb": round(video.stat().st_size / 2**20, 1)}
        row.update(classify_in_child(bundle, video, Path(tmp) / "out.jsonl"))
        return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", default="demo-out/bundle", help="an exported bundle")
    p.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    p.add_argument("--size", default="640x480", help="frame size WxH")
    p.add_argument("--out", default=str(HERE / "results"), help="results folder")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    size = tuple(int(x) for x in args.size.split("x"))
    if args.child:  # one length per process, so each peak RSS is its own
        print(json.dumps(measure_one(Path(args.bundle), args.minutes[0], size)))
        return 0
    if not (Path(args.bundle) / "model.onnx").exists():
        print(f"no bundle at {args.bundle}: run `make demo` or pass --bundle", file=sys.stderr)
        return 2
    rows = []
    for minutes in args.minutes:
        proc = subprocess.run([sys.executable, __file__, "--child", "--bundle", args.bundle,
                               "--minutes", str(minutes), "--size", args.size],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    info = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 2), "bundle": args.bundle,
            "command": " ".join(["python benchmarks/long_video.py", *(argv or sys.argv[1:])])}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from videoedge.runtime import atomic

    atomic.write_json(out / "long_video.json", {"info": info, "rows": rows})
    lines = ["| video | frames | size | file | clips | peak RSS | wall |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['minutes']:g} min | {r['frames']} | {r['size']} | {r['file_mb']} MB "
                     f"| {r['clips']} | {r['peak_rss_mb']} MB | {r['wall_s']} s |")
    atomic.write_text(out / "long_video.md", "\n".join(lines) + f"\n\n`{info['command']}` "
                      f"(load {info['load_1min']}, {info['cpus']} CPUs)\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
