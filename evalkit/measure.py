"""Measurement trackers: peak memory per model (CUDA peak allocated/reserved, else process peak RSS),
and the machine description stored in every manifest."""

from __future__ import annotations

import gc
import os
import platform
import resource
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from evalkit.records import MemoryReading

LIBRARIES = ("evalkit", "torch", "transformers", "peft", "bitsandbytes", "accelerate", "sentence-transformers",
             "scikit-learn", "textstat", "lexicalrichness", "sacrebleu", "numpy", "pandas", "httpx")


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def current_rss() -> int | None:
    return _status_kb("VmRSS")


def peak_rss() -> int:
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def reset_peak_rss() -> bool:
    """Linux resets VmHWM to the current RSS when '5' is written to /proc/self/clear_refs."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class MemoryTracker:
    """Peak memory of one model's load + generation. On CUDA: peak allocated and reserved (reset
    before the model). On CPU: peak RSS of this process, reset before the model where Linux allows,
    with the RSS before loading kept as the baseline."""

    def __init__(self, remote: bool = False) -> None:
        self.remote = remote
        self.cuda = False
        self.baseline: int | None = None
        self.reset_ok = False

    def start(self) -> None:
        if self.remote:
            return
        import torch

        self.cuda = torch.cuda.is_available()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.baseline = int(torch.cuda.memory_allocated())
        else:
            gc.collect()
            self.reset_ok = reset_peak_rss()
            self.baseline = current_rss()

    def stop(self) -> MemoryReading:
        if self.remote:
            return MemoryReading(kind="not measurable", note="the model runs in another process or machine")
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            return MemoryReading(kind="cuda", peak_bytes=int(torch.cuda.max_memory_allocated()),
                                 reserved_bytes=int(torch.cuda.max_memory_reserved()), baseline_bytes=self.baseline)
        note = None if self.reset_ok else "peak RSS could not be reset: it includes earlier models of this process"
        return MemoryReading(kind="rss", peak_bytes=peak_rss(), baseline_bytes=self.baseline, note=note)


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


@lru_cache(maxsize=1)
def git_sha() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """What produced the numbers. ``gpu`` is filled only when torch is already imported (no import here)."""
    hw: dict[str, Any] = {
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
        if hasattr(os, "sysconf") else None,
        "gpu": None,
    }
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        hw["gpu"] = torch.cuda.get_device_name(0)
    return hw


def device_line(hw: dict[str, Any]) -> str:
    if hw.get("gpu"):
        return f"cuda {hw['gpu']}"
    return f"cpu ({hw.get('cores')} cores, {hw.get('cpu')})"
