"""`videoedge demo`: the whole chain on the embedded default, and a report to look at.

    DIR/data/            synthetic UCF101-style dataset     (videoedge data synth)
    DIR/run/             the tiny preset, fine-tuned        (videoedge train)
    DIR/eval.json        single-view and multi-view test accuracy (videoedge evaluate)
    DIR/bundle/          fp32 + fp16 + int8 dynamic ONNX, parity checked (videoedge export)
    DIR/bundle-static/   fp32 + int8 static (QDQ, calibrated on train clips)
    DIR/bench/           PyTorch vs every ONNX variant      (videoedge bench)
    DIR/runtime_test.jsonl  the test split classified by the torch-free runtime (videoedge run)
    DIR/live.*           one test video replayed as if live, annotated
    DIR/report.md        all of it, with pictures; DIR/summary.png, the one-picture version

Lives in benchmarks/, the one layer allowed to import every stage. Finished stages are reused
on a rerun (their outputs are written atomically, so "exists" means "complete"); `--redo`
starts again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class DemoConfig:
    out: Path = Path("demo-out")  # everything goes under this folder
    redo: bool = False  # start from scratch instead of reusing finished stages
    quiet: bool = False  # no progress bars or library logs: one line per stage
    seed: int = 0  # dataset and training seed
    bench_runs: int = 2  # latency runs (until two agree within 10%, at most this many)
    bench_quick: bool = False  # a smoke benchmark (few rounds): figures not for quoting
    model: str = "tiny"  # the preset to fine-tune (tests use "micro")
    synth: object = None  # a videoedge.train.synth.SynthConfig; None = the default dataset
    epochs: int | None = None  # None: the preset's recipe
    stage_seconds: dict = field(default_factory=dict)  # filled in as stages finish

    def __post_init__(self):
        self.out = Path(self.out)
        if self.bench_runs < 1:
            raise ValueError("bench_runs must be >= 1")


def _videoedge(*args) -> list[str]:
    return [sys.executable, "-m", "videoedge.runtime.cli", *map(str, args)]


def _check(cmd: list[str], quiet: bool) -> subprocess.CompletedProcess:
    from videoedge.runtime.errors import BatchError

    proc = subprocess.run(cmd, capture_output=quiet, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or "").strip().splitlines()[-1:] if quiet else []
        raise BatchError(f"demo step failed (status {proc.returncode}): "
                         f"{' '.join(map(str, cmd[2:]))} {' '.join(detail)}")
    return proc


class Demo:
    def __init__(self, config: DemoConfig):
        self.c = config
        self.d = config.out.absolute()
        self.data, self.run_dir = self.d / "data", self.d / "run"
        self.model = self.run_dir / "model"
        self.bundle, self.static = self.d / "bundle", self.d / "bundle-static"
        self.facts: dict = {}

    def stages(self):
        return [
            ("data", self.data / "synth.json", self.make_data),
            ("train", self.run_dir / "metrics.json", self.train),
            ("evaluate", self.d / "eval.json", self.evaluate),
            ("export", self.bundle / "parity.json", self.export),
            ("export static int8", self.static / "parity.json", self.export_static),
            ("benchmark", self.d / "bench" / "latency.json", self.benchmark),
            ("runtime on test split", self.d / "runtime_test.json", self.classify_test),
            ("live replay", self.d / "live.json", self.live),
            ("report", None, self.report),
        ]

    def __call__(self) -> Path:
        if self.c.redo and self.d.exists():
            shutil.rmtree(self.d)
        self.d.mkdir(parents=True, exist_ok=True)
        stages = self.stages()
        started = time.perf_counter()
        for i, (name, done_marker, fn) in enumerate(stages, 1):
            t0 = time.perf_counter()
            reused = done_marker is not None and done_marker.exists()
            if not reused:
                fn()
            seconds = time.perf_counter() - t0
            if not reused:
                self.c.stage_seconds[name] = round(seconds, 1)
                self._save_times()
            note = "reused (--redo to remake)" if reused else f"{seconds:6.1f} s"
            print(f"[{i}/{len(stages)}] {name:<24} {note}", flush=True)
        print(f"demo: done in {time.perf_counter() - started:.0f} s; open {self.d / 'report.md'}")
        return self.d / "report.md"

    def _save_times(self):
        from videoedge.runtime import atomic

        path = self.d / "stage_seconds.json"
        times = json.loads(path.read_text()) if path.exists() else {}
        times.update(self.c.stage_seconds)
        atomic.write_json(path, times)

    # -- stages ------------------------------------------------------------------------------
    def make_data(self):
        from videoedge.train.synth import SynthConfig, synthesize

        synthesize(self.data, self.c.synth or SynthConfig(seed=self.c.seed),
                   progress=not self.c.quiet)

    def train(self):
        from videoedge.train.finetune import TrainConfig, fine_tune

        fine_tune(TrainConfig(data=str(self.data), out=str(self.run_dir), model=self.c.model,
                              epochs=self.c.epochs, seed=self.c.seed,
                              progress=not self.c.quiet, overwrite=True))

    def evaluate(self):
        import numpy as np

        from videoedge.runtime import atomic
        from videoedge.train.evaluate import evaluate_model
        from videoedge.train.plots import confusion_matrix_png

        single = evaluate_model(self.model, self.data, "test", clips=1, crops=1)
        multi = evaluate_model(self.model, self.data, "test", clips=4, crops=3)
        confusion_matrix_png(np.array(single.confusion), single.labels, self.d / "confusion.png",
                             title=f"test, single view: top-1 {single.top1:.1%}")
        atomic.write_json(self.d / "eval.json", {"single_view": single.to_dict(),
                                                 "multi_view": multi.to_dict()})

    def export(self):
        from videoedge.export.bundle import export_bundle
        from videoedge.export.config import ExportConfig

        export_bundle(ExportConfig(model=self.model, out=self.bundle, fp16=True, int8="dynamic",
                                   data=self.data), echo=not self.c.quiet)

    def export_static(self):
        from videoedge.export.bundle import export_bundle
        from videoedge.export.config import ExportConfig

        export_bundle(ExportConfig(model=self.model, out=self.static, int8="static",
                                   calib=self.data, data=self.data), echo=not self.c.quiet)

    def benchmark(self):
        from videoedge.benchmarks import latency

        out = self.d / "bench"
        argv = ["--model", str(self.model), "--bundle", str(self.bundle), "--bundle",
                str(self.static), "--data", str(self.data), "--out", str(out),
                "--readme", str(out / "README.md"), "--max-runs", str(self.c.bench_runs),
                "--no-compile"] + (["--quick"] if self.c.bench_quick else [])
        code = latency.main(argv)
        if code not in (0, 1) or not (out / "latency.json").exists():
            from videoedge.runtime.errors import BatchError

            raise BatchError(f"the benchmark failed (status {code})")

    def classify_test(self):
        from videoedge.runtime import atomic

        jsonl = self.d / "runtime_test.jsonl"
        _check(_videoedge("run", self.bundle, self.data / "test", "--json", jsonl, "--quiet",
                          "--device", "cpu"), self.c.quiet)
        rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
        files = [r for r in rows if r.get("type") == "file"]
        correct = sum(Path(r["source"]).parent.name == r["label"] for r in files)
        atomic.write_json(self.d / "runtime_test.json", {
            "videos": len(files), "correct": correct, "accuracy": correct / max(len(files), 1),
            "errors": [r for r in rows if r.get("type") == "error"],
            "wall_ms": sum(r.get("wall_ms", 0) for r in files)})

    def live(self):
        from videoedge.runtime import atomic

        video = sorted((self.data / "test").glob("*/*.avi"))[0]
        jsonl, saved = self.d / "live.jsonl", self.d / "live.avi"
        _check(_videoedge("run", self.bundle, video, "--live", "--json", jsonl, "--save", saved,
                          "--quiet", "--device", "cpu"), self.c.quiet)
        rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
        summary = next((r for r in rows if r.get("type") == "summary"), {})
        _frames_strip(saved, self.d / "live_frames.png")
        atomic.write_json(self.d / "live.json", {"video": str(video), "summary": summary})

    def report(self):
        from .demo_report import write_report

        write_report(self.d)


def _frames_strip(video: Path, png: Path, n: int = 4) -> None:
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    if frames:
        picks = [frames[int(i)] for i in np.linspace(len(frames) * 0.3, len(frames) - 1, n)]
        cv2.imwrite(str(png), np.hstack(picks))


# -- CLI ------------------------------------------------------------------------------------
def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the whole chain on the embedded default, with a report",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="demo-out", help="output folder (demo-out)")
    p.add_argument("--redo", action="store_true", help="remake every stage")
    p.add_argument("--quiet", action="store_true", help="one line per stage, no progress bars")
    p.add_argument("--bench-runs", type=int, default=2,
                   help="latency runs, until two agree within 10%% (2)")
    p.set_defaults(handler=_main, extra="train,export")


def _main(args) -> int:
    if args.quiet:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ["TQDM_DISABLE"] = "1"
    Demo(DemoConfig(out=Path(args.out), redo=args.redo, quiet=args.quiet,
                    bench_runs=args.bench_runs))()
    return 0
