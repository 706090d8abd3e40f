"""The machine and software a result was measured on; copied into every result row."""

from __future__ import annotations

import importlib.metadata
import os
import platform


def cpu_name() -> str:
    """The model name, with the x86 family/model when a VM hides the generation ("AMD EPYC"
    is a Zen 1 at family 23 model 1 and a Zen 3 at family 25: GEMM peaks over 2x apart)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():  # the first processor's block is enough
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields and not any(c.isdigit() for c in name):
        name += f" (family {fields['cpu family']} model {fields['model']})"
    return name


def cpu_flags() -> list[str]:
    """The SIMD features that decide GEMM speed (fp32: AVX2/AVX-512; int8: VNNI, AMX)."""
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [w for w in wanted if w in have]
    except OSError:
        pass
    return []


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def load_average() -> float:
    """The 1-minute load average (-1 where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return -1.0


def gpu_name() -> str:
    """The first NVIDIA GPU's name from nvidia-smi ("-" without one); torch is not imported
    here, so the benchmark's parent process stays small."""
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return "-"
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "-"
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return names[0] if out.returncode == 0 and names else "-"


class OtherCpu:
    """How many cores processes *other than this benchmark* kept busy while it ran.

    The load average cannot say: the benchmark's own threads are in it. This compares the
    system's busy CPU time (/proc/stat, via psutil) with the CPU time of this process and
    its finished children (the workers, reaped before `stop`)."""

    def __init__(self):
        self.t0, self.busy0, self.mine0 = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        import time

        import psutil

        c = psutil.cpu_times()
        busy = sum(getattr(c, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq",
                                                "steal"))
        t = os.times()
        return time.monotonic(), busy, t.user + t.system + t.children_user + t.children_system

    def stop(self) -> float:
        """Average cores used by other processes since construction (>= 0)."""
        t1, busy1, mine1 = self._sample()
        return max(0.0, ((busy1 - self.busy0) - (mine1 - self.mine0)) / max(t1 - self.t0, 1e-9))


def describe(threads: int) -> dict:
    import psutil

    ort = version("onnxruntime")
    if ort == "-":
        ort = version("onnxruntime-gpu")
    return {
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu": gpu_name(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "threads": threads,
        "versions": {"torch": version("torch"), "transformers": version("transformers"),
                     "onnxruntime": ort, "onnx": version("onnx"), "numpy": version("numpy")},
    }


def short(machine: dict) -> str:
    """One cell for the table: CPU, cores, SIMD (and the GPU when there is one)."""
    cpu = machine["cpu"].replace("(R)", "").replace("(TM)", "").replace(" Processor", "")
    simd = "+".join(f for f in machine["cpu_flags"] if f != "fma") or "no AVX2"
    text = f"{cpu}, {machine['physical_cores']}c, {simd}"
    return text if machine["gpu"] == "-" else f"{text}; {machine['gpu']}"
