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


def dtype_name(option: str, device: str | None, has_bf16: Any = None) -> str:
    """The dtype the hf backend loads unquantized weights in: ``auto`` is bf16 on a GPU or a CPU with bf16
    units (``has_bf16``: the detector, cpu_has_bf16 by default), else float32; any other option is itself."""
    if option != "auto":
        return option
    if device and device.startswith("cuda"):
        return "bfloat16"
    return "bfloat16" if (has_bf16 or cpu_has_bf16)() else "float32"


def compute_dtype_name(wanted: str, device: str | None, has_bf16: Any = None) -> str:
    """The compute dtype of 4-bit (nf4) layers on ``device``: ``wanted`` (a recipe's, bf16 by default), except
    bf16 on a CPU without bf16 units, which computes in float32: bitsandbytes' CPU path then multiplies
    ~7x faster at prefill and training sizes (benchmarks: docs/capacity.md), with the same stored weights."""
    return dtype_name("auto", device, has_bf16) if wanted == "bfloat16" else wanted


def int8_dynamic(model: Any) -> Any:
    """The model with every nn.Linear replaced by a dynamically quantized int8 Linear (weights int8,
    activations quantized per call). CPU only; the embeddings and norms stay fp32."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch.ao's deprecation notes, one per layer
        warnings.simplefilter("ignore")
        return quantize_dynamic(model.float(), {torch.nn.Linear}, dtype=torch.qint8)


def dense_head_input(model: Any) -> None:
    """Give the output layer a densely laid out input on the CPU. transformers feeds it the last position
    as a view ``hidden[:, -1:, :]`` whose batch stride still spans the whole prompt; torch's CPU bf16/fp16
    matmul takes a slow path for such a stride (benchmarks/bench_head_stride.py: 17x slower for
    SmolLM2's head, ~90x for Llama 3 8B's, where one prompt's head cost 18 s instead of 0.2 s).
    fp32 is unaffected; the copy is one hidden vector per sequence."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None or getattr(head, "_evalkit_dense_input", False):
        return

    def dense(_mod: Any, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.device.type == "cpu" and x.dtype in (torch.bfloat16, torch.float16) \
                and x.dim() == 3 and x.stride(0) != x.shape[1] * x.shape[2]:
            return (x.clone(memory_format=torch.contiguous_format), *args[1:])
        return None

    head.register_forward_pre_hook(dense)
    head._evalkit_dense_input = True
