"""Write the results: latency.json (everything, raw times included), latency.csv (one row per
variant), latency.md (the tables), latency.png (the chart), and the results section of
benchmarks/README.md. Every file is written atomically."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from videoedge.runtime import atomic

README_START = "<!-- results:start (written by benchmarks/report.py; do not edit by hand) -->"
README_END = "<!-- results:end -->"

CSV_COLUMNS = (
    "model", "variant", "backend", "device", "precision", "status", "p50_ms", "p95_ms",
    "spread_pct", "n", "clips_per_s_b1", "batch", "p50_batch_ms", "clips_per_s_batch",
    "x_ort_fp32", "x_floor", "gflops_per_s", "peak_rss_mb", "file_mb", "accuracy",
    "top1_agreement", "max_abs_logit_diff", "eval_n", "first_call_s", "load_s",
    "prev_run_p50_ms", "run_diff_pct", "library", "machine", "threads", "versions",
    "load_avg_1min",
)
# (header, column, format) of the Markdown table
MD_COLUMNS = (
    ("variant", "variant", "{}"), ("p50 ms", "p50_ms", "{:.1f}"), ("p95 ms", "p95_ms", "{:.1f}"),
    ("spread", "spread_pct", "{:.1f}%"), ("clips/s b1", "clips_per_s_b1", "{:.2f}"),
    ("clips/s b{batch}", "clips_per_s_batch", "{:.2f}"), ("x ORT fp32", "x_ort_fp32", "{:.2f}"),
    ("x floor", "x_floor", "{:.2f}"), ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
    ("file MB", "file_mb", "{:.1f}"), ("accuracy", "accuracy", "{:.3f}"),
    ("top-1 agree", "top1_agreement", "{:.3f}"), ("max logit diff", "max_abs_logit_diff",
                                                  "{:.2g}"),
    ("run-to-run", "run_diff_pct", "{:.1f}%"), ("machine", "machine", "{}"),
    ("threads", "threads", "{}"), ("library", "library", "{}"),
)


def fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    try:
        return spec.format(value)
    except (ValueError, TypeError):
        return str(value)


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def md_table(rows: list[dict]) -> str:
    batch = next((r["batch"] for r in rows if r.get("batch")), "N")
    lines = ["| " + " | ".join(h.format(batch=batch) for h, _, _ in MD_COLUMNS) + " |",
             "|" + "|".join("---" if c in ("variant", "library", "machine") else "---:"
                            for _, c, _ in MD_COLUMNS) + "|"]
    for row in rows:
        if row.get("status", "ok") != "ok":
            cells = [row["variant"], row["status"]] + ["" for _ in MD_COLUMNS[2:]]
        else:
            cells = [fmt(row.get(c), f) for _, c, f in MD_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_header(m: dict) -> str:
    f, g = m["flops"], m["gemm"][-1]
    runs = len(m["runs"])
    worst = max((a["relative_diff"] for a in m["agreements"]), default=None)
    if runs < 2:
        stability = "one run only: run-to-run agreement not checked"
    else:
        stability = (f"{runs} runs; the last two agree within {m['tolerance']:.0%} "
                     f"(largest batch-1 p50 difference {worst:.1%})" if m["stable"] else
                     f"{runs} runs; NOT STABLE: the last two runs differ by up to {worst:.1%} "
                     f"(> {m['tolerance']:.0%}); do not quote these figures")
    shapes = ", ".join(f"{k}: {v:.3g}" for k, v in g["shapes"].items())
    load = ", ".join(f"{a}->{b}" for a, b in m["load_avg"])
    others = m.get("other_cpu_cores") or []
    if others:
        load += ("; CPU used by other processes during each run: "
                 + ", ".join(f"{x:.2f}" for x in others) + " cores")
        if max(others) > m.get("busy_cores", 0.25):
            stability += (f". **BUSY MACHINE: other processes kept {max(others):.2f} cores busy "
                          "during a run; these figures are not for quoting**")
    return "\n".join([
        f"### {m['label']}",
        "",
        f"- Model: `{m['model']}`, bundle: `{m['bundle']}`; input {m['input']}; "
        f"{'trained weights' if m['trained'] else 'RANDOM weights (accuracy not reported)'}.",
        f"- Clips: {m['timing_source']}; accuracy/agreement on {m['eval_source']}.",
        f"- Work per clip: {f['flops'] / 1e9:.1f} GFLOP ({f['flops'] / 2e9:.1f} GMAC) counted "
        f"by torch FlopCounterMode; analytic GEMM count {f['analytic'] / 1e9:.1f} GFLOP "
        f"(differs by {f['rel_diff']:.1%}).",
        f"- fp32 GEMM peak, measured in this run: {g['gflops']:.0f} GFLOP/s at "
        f"{g['threads']} threads ({shapes} GFLOP/s by MxKxN) -> floor "
        f"{m['floor_s'] * 1e3:.1f} ms per clip.",
        f"- Timing: {m['timing']}.",
        f"- Stability: {stability}. 1-min load average (start->end of each run; it includes "
        f"this benchmark's own threads): {load}.",
    ])


def markdown(report: dict) -> str:
    mach = report["machine"]
    v = mach["versions"]
    parts = [
        f"Measured {report['finished']} on {mach['cpu']} ({mach['physical_cores']} cores, "
        f"{', '.join(mach['cpu_flags']) or 'no AVX2'}, {mach['ram_gb']} GB RAM"
        f"{'' if mach['gpu'] == '-' else ', GPU ' + mach['gpu']}), {mach['threads']} threads "
        f"for every variant; torch {v['torch']}, transformers {v['transformers']}, "
        f"onnxruntime {v['onnxruntime']}, onnx {v['onnx']}, numpy {v['numpy']}, "
        f"Python {mach['python']}, {mach['os']}.",
        "",
        "Latency is per call at batch 1 (p50/p95 over the timed calls, spread = interquartile "
        "range / p50); clips/s bN is throughput at batch N; "
        "`x ORT fp32` divides by ORT fp32's p50, `x floor` by the FLOP floor; peak RSS is the "
        "variant's own process; accuracy and top-1 agreement (with PyTorch eager fp32) are on "
        "real clips; run-to-run is the batch-1 p50 difference from the previous run.",
    ]
    for m in report["models"]:
        parts += ["", model_header(m), "", md_table(m["rows"])]
        if m.get("target"):
            parts += ["", m["target"]]
    if report.get("e2e"):
        parts += ["", "### End to end (measured in this run)", "", report["e2e"]]
    else:
        parts += ["", "End-to-end rows (`videoedge run` vs `transformers.pipeline`, files/s) "
                  "were not measured in this run: `python -m videoedge.benchmarks.e2e` "
                  "measures them on your data."]
    chart_path = report.get("chart", "latency.png")
    parts += ["", f"Chart: `{chart_path}`. Remake: `{report['command']}`"]
    return "\n".join(parts) + "\n"


def e2e_markdown(path: Path) -> str | None:
    """The runtime's end-to-end rows (files/s, `videoedge run` vs the transformers pipeline),
    as a table of whatever columns it wrote; None when it has not been run."""
    if not path.is_file():
        return None
    md = path.with_suffix(".md")
    if md.is_file():  # e2e.py's own rendering, its title dropped (this section has one)
        lines = md.read_text().strip().splitlines()
        return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip()
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        return f"(could not read {path}: {e})"
    if isinstance(data, dict) and isinstance(data.get("markdown"), str):
        return data["markdown"].strip()
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return f"(see {path})"
    cols = [k for k in rows[0] if not isinstance(rows[0][k], (dict, list))]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(c), "{:.3g}" if isinstance(r.get(c), float)
                                           else "{}") for c in cols) + " |")
    return "\n".join(lines)


def chart(report: dict, path: Path) -> None:
    """p50 latency at batch 1 with p5-p95 whiskers, one panel per model, floor as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = report["models"]
    fig, axes = plt.subplots(len(models), 1, figsize=(9, 1.2 + 0.5 * max(
        sum(1 for r in m["rows"] if r.get("p50_ms") is not None) for m in models) * len(models)),
        squeeze=False)
    colors = {"torch": "#d62728", "ort": "#1f77b4"}
    for ax, m in zip(axes[:, 0], models):
        ok = [r for r in m["rows"] if r.get("p50_ms") is not None]
        names = [r["variant"] for r in ok]
        p50 = [r["p50_ms"] for r in ok]
        raw = {r["variant"]: m["raw"].get(r["variant"], {}) for r in ok}
        lo = [max(0.0, r["p50_ms"] - raw[r["variant"]].get("p5_ms", r["p50_ms"])) for r in ok]
        hi = [max(0.0, r["p95_ms"] - r["p50_ms"]) for r in ok]
        y = range(len(ok))
        ax.barh(list(y), p50, xerr=[lo, hi], capsize=3,
                color=[colors.get(r["backend"], "grey") for r in ok])
        for i, r in enumerate(ok):
            label = f" {r['p50_ms']:.1f} ms"
            if r.get("x_ort_fp32"):
                label += f"  ({r['x_ort_fp32']:.2f}x ORT fp32)"
            ax.text(max(r["p50_ms"], r["p95_ms"]), i, label, va="center", fontsize=8)
        ax.axvline(m["floor_s"] * 1e3, color="black", linestyle="--", linewidth=1,
                   label=f"fp32 FLOP floor {m['floor_s'] * 1e3:.1f} ms")
        ax.set_yticks(list(y), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms per clip, batch 1 (p50, whiskers p5-p95)")
        ax.set_title(m["label"], fontsize=10)
        ax.set_xlim(0, max([r["p95_ms"] for r in ok] + [m["floor_s"] * 1e3]) * 1.5)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"videoedge latency, {report['machine']['cpu']}, "
                 f"{report['machine']['threads']} threads", fontsize=10)
    fig.tight_layout()
    with atomic.file(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def update_readme(readme: Path, md: str) -> None:
    """Replace the text between the results markers (append the section when absent)."""
    text = readme.read_text() if readme.is_file() else ""
    block = f"{README_START}\n{md}{README_END}"
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + ("\n\n" if text else "") + "## Latest results\n\n" + block + "\n"
    atomic.write_text(readme, text)


def write_all(report: dict, out: Path, readme: Path | None = None) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / f"latency.{k}" for k in ("json", "csv", "md", "png")}
    report["chart"] = str(paths["png"])
    # only this run's own end-to-end figures: a results file from another run (another
    # machine, model or date) is never shown as if measured now
    report["e2e"] = e2e_markdown(out / "e2e.json")
    md = markdown(report)
    atomic.write_json(paths["json"], report)
    atomic.write_text(paths["csv"], csv_text([r for m in report["models"] for r in m["rows"]]))
    atomic.write_text(paths["md"], "# videoedge benchmark results\n\n" + md)
    chart(report, paths["png"])
    if readme is not None:
        update_readme(readme, md)
    return paths
