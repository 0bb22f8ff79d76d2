"""One nf4 Linear4bit of Llama 3 8B's MLP shape (4096 -> 14336) on this CPU, computing in bf16 and in
float32: milliseconds per call at decode size (10 rows: a batch of 10) and prefill size (1,340 rows:
10 prompts of ~134 tokens). Why evalkit computes 4-bit layers in float32 on a CPU without bf16 units
(evalkit.models.hf_cpu.compute_dtype_name). Run by hand:

    .venv/bin/python benchmarks/bench_nf4_compute.py [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calls", type=int, default=3)
    args = ap.parse_args()

    import bitsandbytes as bnb
    import torch

    from evalkit.models.hf_cpu import cpu_has_bf16

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, CPU bf16 units: {cpu_has_bf16()}, load {os.getloadavg()[0]:.2f}")
    weight = torch.randn(14336, 4096).to(torch.bfloat16)
    for compute in (torch.bfloat16, torch.float32):
        lin = bnb.nn.Linear4bit(4096, 14336, bias=False, compute_dtype=compute, quant_type="nf4")
        lin.weight = bnb.nn.Params4bit(weight.clone(), requires_grad=False, quant_type="nf4")
        for rows in (10, 1340):
            x = torch.randn(rows, 4096, dtype=compute)
            with torch.inference_mode():
                lin(x)  # first use: repacking
                t = time.perf_counter()
                for _ in range(args.calls):
                    lin(x)
                dt = (time.perf_counter() - t) / args.calls
            print(f"compute {str(compute).removeprefix('torch.')}, {rows} rows: {dt * 1000:.0f} ms a call, "
                  f"{2 * rows * 4096 * 14336 / dt / 1e9:.1f} GFLOP/s", flush=True)
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
