"""CPU speed pieces of the hf backend: which dtype the CPU runs fast, int8 dynamic quantization of the
Linear layers, and sampling that does not sort the whole vocabulary every step.

What each is worth was measured interleaved by benchmarks/bench_cpu_options.py (see README, "CPU speed")."""

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


def sampling_processors(top_k: int, top_p: float, temperature: float = 1.0) -> Any:
    """A LogitsProcessorList doing temperature → top-k → top-p as transformers' warpers do, but top-p
    works on the k survivors instead of sorting the whole vocabulary (49k–262k entries) every step.
    Pass it with ``temperature=1.0, top_k=0, top_p=1.0`` so transformers adds no warpers of its own."""
    from transformers import LogitsProcessorList

    return LogitsProcessorList([TopKTopP(top_k, top_p, temperature)])


class TopKTopP:
    """Temperature, then keep the top_k logits, then the smallest set of those whose probability
    reaches top_p (at least one); everything else becomes -inf."""

    def __init__(self, top_k: int, top_p: float, temperature: float = 1.0):
        if top_k < 1:
            raise ValueError("top_k must be >= 1")
        self.top_k, self.top_p, self.temperature = top_k, top_p, temperature

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.temperature != 1.0:
            scores = scores / self.temperature
        k = min(self.top_k, scores.shape[-1])
        values, indices = torch.topk(scores, k, dim=-1)  # descending
        if self.top_p < 1.0:
            asc = values.flip(-1)
            remove = asc.softmax(dim=-1).cumsum(dim=-1) <= (1 - self.top_p)
            remove[..., -1] = False  # keep the most likely token
            values = values.masked_fill(remove.flip(-1), float("-inf"))
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(-1, indices, values)
