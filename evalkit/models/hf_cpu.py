"""CPU speed pieces of the hf backend: which dtype the CPU runs fast, and int8 dynamic quantization of
the Linear layers (opt-in).

What each is worth was measured interleaved by benchmarks/bench_cpu_options.py (README, "CPU speed");
a static KV cache and a fused top-k/top-p sampler were measured there too and were slower on CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """bf16 matmuls are fast only with avx512_bf16 / AMX; elsewhere fp32 is quicker on CPU."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return "avx512_bf16" in flags or "amx_bf16" in flags


def int8_dynamic(model: Any) -> Any:
    """The model with every nn.Linear replaced by a dynamically quantized int8 Linear (weights int8,
    activations quantized per call). CPU only; the embeddings and norms stay fp32."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch.ao's deprecation notes, one per layer
        warnings.simplefilter("ignore")
        return quantize_dynamic(model.float(), {torch.nn.Linear}, dtype=torch.qint8)
