"""The demo's report: DIR/report.md (tables and pictures) and DIR/summary.png (one picture).

Reads only what the demo's stages wrote, so it can be remade alone from a finished DIR."""

from __future__ import annotations

import json
from pathlib import Path


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _section(path: Path) -> str:
    """A results Markdown file without its own title line."""
    if not path.exists():
        return f"_{path.name} was not written_\n"
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines).strip() + "\n"


def _dataset_line(d: Path) -> str:
    synth = _load(d / "data" / "synth.json")
    if not synth:
        return "?"
    c = synth["counts"]
    return (f"{len(synth['classes'])} classes, {c['train']}/{c['val']}/{c['test']} "
            f"train/val/test videos")


def _recipe(metrics: dict) -> str:
    recipe = metrics.get("recipe") or {}
    return "`" + ", ".join(f"{k} {v}" for k, v in recipe.items()) + "`" if recipe else "?"


SEED_TABLE = Path(__file__).with_name("results") / "train_seeds.json"


def _seed_table_reference() -> list[str]:
    """How the same recipe did across dataset draws: a reference measured elsewhere, shown
    with its machine, date and command, never as this run's figures."""
    table = _load(SEED_TABLE)
    if not table:
        return []
    test = table.get("summary", {}).get("test", {})
    slowest = max((r.get("finetune_seconds") or 0 for r in table.get("rows", [])), default=0)
    rows = [f"| {r['seed']} | {_pct(r.get('val'))} | {_pct(r.get('test'))} | "
            f"{_pct(r.get('test_4x3'))} | {r.get('finetune_seconds')} |"
            for r in table.get("rows", [])]
    return [
        "How this recipe holds on other draws of the dataset (**a reference, not measured in "
        f"this run**: `{table.get('command', '?')}`, {table.get('measured_at', '?')}, "
        f"{table.get('machine', {}).get('cpu', '?')}):",
        "",
        "| dataset seed | val | test, single view | test, 4 clips x 3 crops | fine-tuning s |",
        "|---|---|---|---|---|",
        *rows,
        f"| **min / mean** | | **{_pct(test.get('min'))} / {_pct(test.get('mean'))}** | | "
        f"{round(slowest)} at most |" if test else "",
        "",
    ]


def write_report(d: Path) -> Path:
    from videoedge.runtime import atomic

    metrics = _load(d / "run" / "metrics.json")
    ev = _load(d / "eval.json")
    single, multi = ev.get("single_view", {}), ev.get("multi_view", {})
    parity = _load(d / "bundle" / "parity.json")
    parity_static = _load(d / "bundle-static" / "parity.json")
    rt = _load(d / "runtime_test.json")
    live = _load(d / "live.json")
    times = _load(d / "stage_seconds.json")
    summary = live.get("summary", {})
    lag = summary.get("lag_ms", {})

    test_acc = single.get("top1")
    lines = [
        "# videoedge demo report",
        "",
        f"The whole chain on the embedded default: a synthetic UCF101-style dataset "
        f"({_dataset_line(d)}), the `{metrics.get('model', '?')}` VideoMAE preset fine-tuned with "
        "the Hugging Face `Trainer`, exported to ONNX fp32/fp16/int8, benchmarked against "
        "PyTorch, and run by the torch-free runtime on files and on a live replay.",
        "",
        "![summary](summary.png)",
        "",
        "## Accuracy",
        "",
        "| | top-1 | top-5 | videos |",
        "|---|---|---|---|",
        f"| validation (best epoch, in training) | {_pct(metrics.get('val_accuracy'))} | | |",
        f"| test, single view (1 centred clip), PyTorch | {_pct(test_acc)} | "
        f"{_pct(single.get('top5'))} | {single.get('videos', 'n/a')} |",
        f"| test, {multi.get('clips', '?')} clips x {multi.get('crops', '?')} crops, PyTorch | "
        f"{_pct(multi.get('top1'))} | {_pct(multi.get('top5'))} | {multi.get('videos', 'n/a')} |",
        f"| test, `videoedge run` (ONNX fp32, clips every half clip, averaged) | "
        f"{_pct(rt.get('accuracy'))} | | {rt.get('videos', 'n/a')} |",
        "",
        f"Training: {metrics.get('steps', '?')} steps, "
        f"{metrics.get('train_seconds', metrics.get('wall_seconds', '?'))} s, with the "
        f"recipe {_recipe(metrics)}.",
        "",
        *_seed_table_reference(),
        "| training curve | confusion matrix (test, single view) |",
        "|---|---|",
        "| ![curve](run/training_curve.png) | ![confusion](confusion.png) |",
        "",
        "A preprocessed training clip, un-normalised (the guide's debugging visual):",
        "",
        "![preview](run/preview.gif)",
        "",
        "## Parity: every ONNX variant against PyTorch, on real test clips",
        "",
        _section(d / "bundle" / "parity.md"),
        "Static int8 (QDQ, calibrated on training clips):",
        "",
        _section(d / "bundle-static" / "parity.md"),
        "## Latency: PyTorch vs ONNX Runtime",
        "",
        "![latency](bench/latency.png)",
        "",
        _section(d / "bench" / "latency.md"),
        "## Live: one test video replayed as if from a camera",
        "",
        f"Source: `{Path(live.get('video', '?')).name}`; {summary.get('results', '?')} labels "
        f"from {summary.get('frames_captured', '?')} frames; capture-to-label lag p50 "
        f"{lag.get('p50', '?')} ms, p95 {lag.get('p95', '?')} ms, max {lag.get('max', '?')} ms; "
        f"frames dropped: {summary.get('frames_dropped', '?')}.",
        "",
        "![live frames](live_frames.png)",
        "",
        "The annotated video is `live.avi`; every label is in `live.jsonl`.",
        "",
        "## Stage times",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in times.items()],
        f"| **total** | **{sum(times.values()):.0f}** |",
        "",
    ]
    if parity and not parity.get("passed", True) or parity_static and not parity_static.get(
            "passed", True):
        lines.insert(4, "**A parity check failed: see the parity section.**\n")
    atomic.write_text(d / "report.md", "\n".join(lines))
    summary_png(d, test_acc)
    return d / "report.md"


def summary_png(d: Path, test_acc) -> Path:
    """Training curve, confusion matrix, latency chart and live frames in one picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    from videoedge.runtime import atomic

    panels = [("training curve", d / "run" / "training_curve.png"),
              (f"test confusion (top-1 {_pct(test_acc)})", d / "confusion.png"),
              ("latency: PyTorch vs ONNX", d / "bench" / "latency.png"),
              ("live replay, annotated", d / "live_frames.png")]
    panels = [(t, p) for t, p in panels if p.exists()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2))
    for ax, (title, path) in zip(list(axes) if len(panels) > 1 else [axes], panels):
        ax.imshow(mpimg.imread(path))
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    with atomic.file(d / "summary.png") as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return d / "summary.png"
