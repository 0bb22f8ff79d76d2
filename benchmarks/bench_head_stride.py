"""Why evalkit.models.hf_cpu.dense_head_input exists: torch's CPU bf16 matmul of the output layer on the
last-position view transformers passes (batch stride = the whole prompt) against the same values laid
out densely. Prints ms per call for three real head shapes, bf16 and fp32.

    nice -n 10 python benchmarks/bench_head_stride.py   # quote the load average (uptime) with it
"""

from __future__ import annotations

import os
import time

import torch

HEADS = {"SmolLM2-135M": (49152, 576), "DistilGPT-2": (50257, 768), "Llama 3 8B": (128256, 4096)}
PROMPT = 120


def per_call_ms(x: torch.Tensor, w: torch.Tensor, reps: int = 3) -> float:
    with torch.inference_mode():
        torch.nn.functional.linear(x, w)
        t = time.perf_counter()
        for _ in range(reps):
            torch.nn.functional.linear(x, w)
    return (time.perf_counter() - t) / reps * 1000


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, (vocab, hidden) in HEADS.items():
        for dtype in (torch.bfloat16, torch.float32):
            w = torch.randn(vocab, hidden).to(dtype)
            view = torch.randn(1, PROMPT, hidden, dtype=dtype)[:, -1:, :]
            dense = view.clone(memory_format=torch.contiguous_format)
            a, b = per_call_ms(view, w), per_call_ms(dense, w)
            print(f"{name:14s} {str(dtype):15s} view {a:9.1f} ms  dense {b:7.1f} ms  ratio {a / b:5.1f}")


if __name__ == "__main__":
    main()
