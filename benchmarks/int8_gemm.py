"""Is int8 faster than fp32 on this CPU at all? One ONNX MatMul, timed both ways.

    python benchmarks/int8_gemm.py [--threads 2] [--out benchmarks/results]

The int8-dynamic target (<= 0.75x of ORT fp32 on the base-sized model) can only be met if
onnxruntime's int8 matrix multiply is clearly faster than its fp32 one here. This script
measures exactly that, on VideoMAE-base's own GEMM shapes at batch 1 (1568 tokens: the
attention projections 768->768 and the MLP 768->3072->768), with nothing else in the graph:
a one-node fp32 MatMul model, and the same model through `quantize_dynamic` (QInt8 weights,
per tensor and per channel, as the export stage writes them). Interleaved timing, median of
`--rounds` rounds (benchmarks/export_base.py's timer). Results: results/int8_gemm.{json,md}.

CPUs with AVX-512 VNNI or AVX-VNNI have an int8 dot-product instruction; plain AVX2 (the
machine this was written on) multiplies int8 through 16-bit intermediates, and onnxruntime's
maintainers expect 10-20% from int8 there (microsoft/onnxruntime#6695), less at long sequences.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHAPES = [(1568, 768, 768), (1568, 768, 3072), (1568, 3072, 768)]  # M x K x N, batch-1 base
VARIANTS = ("fp32", "int8 per tensor", "int8 per channel")


def one_matmul(path: Path, k: int, n: int, m: int) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((k, n)).astype(np.float32) * 0.02
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "one_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def files_for(shape: tuple[int, int, int], work: Path) -> dict[str, Path]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    m, k, n = shape
    fp32 = work / f"mm_{m}x{k}x{n}.onnx"
    one_matmul(fp32, k, n, m)
    files = {"fp32": fp32}
    for name, per_channel in (("int8 per tensor", False), ("int8 per channel", True)):
        files[name] = fp32.with_suffix(f".{'pc' if per_channel else 'pt'}.onnx")
        quantize_dynamic(str(fp32), str(files[name]), weight_type=QuantType.QInt8,
                         per_channel=per_channel)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/int8_gemm.py", description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (default: physical cores)")
    p.add_argument("--rounds", type=int, default=30, help="interleaved rounds (30)")
    p.add_argument("--out", default=str(HERE / "results"), help="folder for int8_gemm.{json,md}")
    args = p.parse_args(argv)

    import psutil

    from videoedge.benchmarks import machine as mach
    from videoedge.benchmarks.export_base import latency
    from videoedge.runtime import atomic

    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's "consider pre-processing"

    threads = args.threads or psutil.cpu_count(logical=False) or 1
    info = mach.describe(threads)
    load = [mach.load_average()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="int8_gemm_") as work:
        for shape in SHAPES:
            m, k, n = shape
            files = files_for(shape, Path(work))
            x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
            timed = latency(files, {"x": x}, args.rounds, threads)
            med = {name: t["p50_s"] for name, t in timed.items()}
            for name in VARIANTS:
                rows.append({"shape": f"{m}x{k}x{n}", "variant": name, "ms": med[name] * 1e3,
                             "gop_s": 2 * m * k * n / med[name] / 1e9,
                             "x_fp32": med[name] / med["fp32"]})
            print(f"{m}x{k}x{n}: " + ", ".join(f"{r['variant']} {r['ms']:.1f} ms"
                                              for r in rows[-3:]), file=sys.stderr)
    load.append(mach.load_average())
    command = "python benchmarks/int8_gemm.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(out / "int8_gemm.json", {"machine": info, "load_average": load,
                                               "command": command.strip(), "rows": rows})
    ratio = float(np.mean([r["x_fp32"] for r in rows if r["variant"] == "int8 per channel"]))
    lines = ["# int8 vs fp32 matrix multiply in onnxruntime, on this CPU", "",
             (f"{mach.short(info)}, {threads} threads, onnxruntime {info['versions']['onnxruntime']}; "
             f"one MatMul node per model, VideoMAE-base shapes at batch 1; median of "
             f"{args.rounds} interleaved rounds; 1-min load "
             f"{load[0]:.2f} -> {load[1]:.2f}."), "",
             "| M x K x N | variant | ms | GOP/s | x fp32 |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['shape']} | {r['variant']} | {r['ms']:.1f} | {r['gop_s']:.1f} | "
              f"{r['x_fp32']:.2f} |" for r in rows]
    lines += ["", (f"int8 per channel (the export stage's setting) / fp32, mean over the shapes: "
              f"**{ratio:.2f}**. The model-level int8 target (<= 0.75x) needs int8 GEMMs at "
              f"least ~1.33x faster than fp32 ones; where this ratio is near 1 the target cannot "
              f"be met on this CPU by any choice of quantization settings."), "",
              f"`{command.strip()}`"]
    atomic.write_text(out / "int8_gemm.md", "\n".join(lines) + "\n")
    print(f"int8_gemm: int8/fp32 {ratio:.2f}; wrote {out / 'int8_gemm.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
