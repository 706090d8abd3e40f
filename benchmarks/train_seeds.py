"""Benchmark: the default tiny recipe across dataset draws, and pre-training's label efficiency.

Targets (issue 13), on the 2-core CPU:
- the recipe: test accuracy >= 90% single view on *every* seed 0..4 (the minimum, not the
  mean), fine-tuning <= 300 s and pre-training <= 600 s per seed;
- label efficiency (--labels 0.25): pre-trained on all train videos without labels, then
  fine-tuned on 25% of the labelled ones (whole groups, every class) >= from scratch on 100%
  (mean of seeds 0..2).

    .venv/bin/python -m videoedge.benchmarks.train_seeds --seeds 0,1,2,3,4 [--pretrain]
    .venv/bin/python -m videoedge.benchmarks.train_seeds --seeds 0,1,2 --labels 0.25 --pretrain

Every run goes through the command line a user types (`videoedge data synth`, `pretrain`,
`train`, `evaluate`), one after the other (never two at once on a 2-core machine). Work and
results go to --work (default: a folder in the system temp dir); `--publish` also writes
benchmarks/results/train_seeds[_labels].json and .md, the tables the READMEs quote.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from videoedge.runtime import atomic

RESULTS = Path(__file__).with_name("results")
TARGET_ACCURACY, FINETUNE_BUDGET_S, PRETRAIN_BUDGET_S = 0.90, 300, 600


def videoedge(*args: str) -> None:
    from videoedge.benchmarks.prepare import _videoedge

    print("+ videoedge " + " ".join(args), flush=True)
    subprocess.run(_videoedge(*args), check=True)


def synth(work: Path, seed: int) -> Path:
    data = work / f"ds{seed}"
    manifest = data / "synth.json"
    if manifest.is_file() and json.loads(manifest.read_text())["config"]["seed"] == seed:
        return data
    shutil.rmtree(data, ignore_errors=True)
    videoedge("data", "synth", str(data), "--seed", str(seed), "--quiet")
    return data


def label_subset(data: Path, fraction: float, seed: int, out: Path) -> Path:
    """DATA with only `fraction` of each class's train groups (whole UCF101 groups, at least
    one per class), as symlinks; val/ and test/ unchanged."""
    from videoedge.train.data import GROUP_RE

    if out.exists():
        shutil.rmtree(out)
    rng = random.Random(seed)
    for split in ("train", "val", "test"):
        for cls in sorted(p for p in (data / split).iterdir() if p.is_dir()):
            files = sorted(cls.iterdir())
            if split == "train":
                groups = sorted({GROUP_RE.search(f.stem).group(1) for f in files})
                keep = set(rng.sample(groups, max(1, round(fraction * len(groups)))))
                files = [f for f in files if GROUP_RE.search(f.stem).group(1) in keep]
            (out / split / cls.name).mkdir(parents=True)
            for f in files:
                (out / split / cls.name / f.name).symlink_to(f.resolve())
    return out


def _fresh(run: Path, reuse: bool) -> bool:
    """True when `run` must be made (again); with `reuse` a finished run folder (metrics.json
    is written last) is kept."""
    if reuse and (run / "metrics.json").is_file():
        print(f"= reusing {run}", flush=True)
        return False
    shutil.rmtree(run, ignore_errors=True)
    shutil.rmtree(run.with_name(run.name + ".partial"), ignore_errors=True)
    return True


def run_one(work: Path, data: Path, name: str, *, pretrain_on: Path | None,
            train_args: list[str], pretrain_args: list[str], reuse: bool = False) -> dict:
    row: dict = {"name": name, "data": str(data)}
    model = "tiny"
    if pretrain_on is not None:
        mae = work / f"{name}-mae"
        if _fresh(mae, reuse):
            videoedge("pretrain", str(pretrain_on), "--model", "tiny", "--out", str(mae),
                      "--quiet", *pretrain_args)
        pm = json.loads((mae / "metrics.json").read_text())
        row.update(pretrain_seconds=pm["train_seconds"], pretrain_steps=pm["steps"],
                   pretrain_loss=[pm["preview_loss_start"], pm["preview_loss_end"]])
        model = str(mae / "model")
    run = work / f"{name}-ft"
    if _fresh(run, reuse):
        videoedge("train", str(data), "--model", model, "--out", str(run), "--quiet",
                  *train_args)
    m = json.loads((run / "metrics.json").read_text())
    multi = work / f"{name}-4x3.json"
    videoedge("evaluate", str(run / "model"), str(data), "--clips", "4", "--crops", "3",
              "--json", str(multi), "--quiet")
    row.update(val=m["val_accuracy"], test=m["test_accuracy"],
               test_4x3=json.loads(multi.read_text())["top1"], best_epoch=m["best_epoch"],
               finetune_seconds=m["train_seconds"], recipe=m["recipe"],
               train_videos=m["videos"]["train"])
    return row


def _seed_row(path: str, seed: int) -> dict:
    table = json.loads(Path(path).read_text())
    for row in table["rows"]:
        if row["seed"] == seed:
            return dict(row, measured_in=f"{path} ({table['measured_at']})")
    raise SystemExit(f"{path} has no row for seed {seed}; run it or drop --scratch-from")


def summary(rows: list[dict], key: str) -> dict:
    values = [r[key] for r in rows if r.get(key) is not None]
    return ({"min": min(values), "mean": sum(values) / len(values), "max": max(values)}
            if values else {})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3,4", help="dataset seeds (default 0..4)")
    ap.add_argument("--pretrain", action="store_true",
                    help="pre-train (videoedge pretrain) on each draw's train videos first")
    ap.add_argument("--labels", type=float, default=None, metavar="FRACTION",
                    help="label-efficiency table: pre-trained + FRACTION of the labels vs "
                    "from scratch on FRACTION and on all (implies --pretrain)")
    ap.add_argument("--scratch-from", metavar="JSON",
                    help="label table: take the from-scratch, all-labels rows from this "
                    "train_seeds.json (same recipe and seeds) instead of training them again")
    ap.add_argument("--reuse", action="store_true",
                    help="keep runs already finished in --work (their metrics are read back)")
    ap.add_argument("--train-args", default="", help="extra `videoedge train` flags, quoted")
    ap.add_argument("--pretrain-args", default="", help="extra `videoedge pretrain` flags")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "videoedge-seeds"),
                    help="datasets, runs and results (default: $TMPDIR/videoedge-seeds)")
    ap.add_argument("--name", default=None,
                    help="results file stem (default train_seeds, or train_seeds_labels)")
    ap.add_argument("--publish", action="store_true",
                    help="also write benchmarks/results/train_seeds*.json/.md (tracked files)")
    args = ap.parse_args(argv)

    from videoedge.benchmarks.machine import describe

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    train_args, pretrain_args = args.train_args.split(), args.pretrain_args.split()
    rows = []
    started = time.time()
    for seed in seeds:
        data = synth(work, seed)
        if args.labels is None:
            rows.append(dict(run_one(work, data, f"{args.name or ''}s{seed}", reuse=args.reuse,
                                     train_args=train_args, pretrain_args=pretrain_args,
                                     pretrain_on=data if args.pretrain else None), seed=seed))
            continue
        part = label_subset(data, args.labels, seed, work / f"ds{seed}-{args.labels:g}")
        for name, d, pre in (("scratch-100", data, None), (f"scratch-{args.labels:g}", part, None),
                             (f"pretrained-{args.labels:g}", part, data)):
            if name == "scratch-100" and args.scratch_from:
                rows.append(dict(_seed_row(args.scratch_from, seed), seed=seed, setting=name))
                continue
            rows.append(dict(run_one(work, d, f"s{seed}-{name}", pretrain_on=pre, reuse=args.reuse,
                                     train_args=train_args, pretrain_args=pretrain_args),
                             seed=seed, setting=name))
    result = {
        "command": "python -m videoedge.benchmarks.train_seeds " + " ".join(argv or sys.argv[1:]),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(time.time() - started),
        "machine": describe(threads=os.cpu_count() or 1), "rows": rows,
        "targets": {"test_min": TARGET_ACCURACY, "finetune_seconds": FINETUNE_BUDGET_S,
                    "pretrain_seconds": PRETRAIN_BUDGET_S},
    }
    if args.labels is None:
        result["summary"] = {k: summary(rows, k) for k in
                             ("val", "test", "test_4x3", "finetune_seconds", "pretrain_seconds")}
        result["met"] = bool(
            result["summary"]["test"]["min"] >= TARGET_ACCURACY
            and max(r["finetune_seconds"] for r in rows) <= FINETUNE_BUDGET_S
            and max((r.get("pretrain_seconds") or 0) for r in rows) <= PRETRAIN_BUDGET_S)
    else:
        settings = sorted({r["setting"] for r in rows}, key=[r["setting"] for r in rows].index)
        result["summary"] = {s: summary([r for r in rows if r["setting"] == s], "test")
                             for s in settings}
        result["met"] = bool(result["summary"][settings[2]]["mean"]
                             >= result["summary"][settings[0]]["mean"])
    stem = args.name or ("train_seeds" if args.labels is None else "train_seeds_labels")
    text = markdown(result, args.labels)
    for folder in [work / "results"] + ([RESULTS] if args.publish else []):
        folder.mkdir(parents=True, exist_ok=True)
        atomic.write_json(folder / f"{stem}.json", result)
        atomic.write_text(folder / f"{stem}.md", text)
    print(text)
    return 0 if result["met"] else 1


def _pct(x) -> str:
    return "" if x is None else f"{x:.1%}"


def markdown(r: dict, labels: float | None) -> str:
    m = r["machine"]
    head = [f"`{r['command']}`", "",
            f"Measured {r['measured_at']} on {m.get('cpu', '?')} ({m.get('threads', '?')} "
            f"threads), {r['seconds']} s in all. Met: **{r['met']}**.", ""]
    if labels is None:
        lines = ["| seed | val | test (1 view) | test (4 clips x 3 crops) | best epoch | "
                 "pre-training s | fine-tuning s |", "|---|---|---|---|---|---|---|"]
        for row in r["rows"]:
            lines.append(f"| {row['seed']} | {_pct(row['val'])} | {_pct(row['test'])} | "
                         f"{_pct(row['test_4x3'])} | {row['best_epoch']:g} | "
                         f"{row.get('pretrain_seconds', '-')} | {row['finetune_seconds']} |")
        s = r["summary"]
        for stat in ("min", "mean"):
            lines.append(f"| **{stat}** | {_pct(s['val'].get(stat))} | "
                         f"**{_pct(s['test'].get(stat))}** | {_pct(s['test_4x3'].get(stat))} | "
                         f"| {round(s['pretrain_seconds'][stat]) if s['pretrain_seconds'] else '-'}"
                         f" | {round(s['finetune_seconds'][stat])} |")
        return "\n".join(head + lines) + "\n"
    lines = ["| seed | setting | train videos | val | test (1 view) | test (4x3) | "
             "pre-training s | fine-tuning s |", "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        setting = row["setting"] + (" (from the seed table's run)" if "measured_in" in row
                                    else "")
        lines.append(f"| {row['seed']} | {setting} | {row['train_videos']} | "
                     f"{_pct(row['val'])} | {_pct(row['test'])} | {_pct(row['test_4x3'])} | "
                     f"{row.get('pretrain_seconds', '-')} | {row['finetune_seconds']} |")
    for setting, s in r["summary"].items():
        lines.append(f"| **mean** | {setting} | | | **{_pct(s['mean'])}** (min "
                     f"{_pct(s['min'])}) | | | |")
    return "\n".join(head + lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
