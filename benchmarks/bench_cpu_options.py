"""Which CPU generation options of the hf backend are really faster here: interleaved A/B in one process.

    nice -n 10 .venv/bin/python benchmarks/bench_cpu_options.py [--model smollm2-135m] [--tokens 48] [--rounds 3]

Each variant is a bare ``model.generate`` on the same prompts (batch --batch, exactly --tokens new tokens
each: min_new_tokens pins the length so every variant does the same work). Variants run interleaved
(A, B, C, …, A, B, C, …) so a load spike from other processes hits them all alike; each figure is the
median tokens/s over --rounds and the ratio to the baseline (fp32, dynamic cache, no streamer, greedy).
The machine's load average is printed: absolute numbers on a loaded machine are low, the ratios are
the result. Variants:

- bf16: the weights in bfloat16 (fast only with avx512_bf16/AMX; printed whether this CPU has them);
- int8-dynamic: torch.ao dynamic int8 quantization of the Linear layers;
- static-cache: ``cache_implementation="static"``;
- streamer: evalkit's former per-token FirstTokenTimer streamer (a Python call per step);
- sample: sampling with temperature 0.8, top_k 50, top_p 0.95 (transformers' warpers sort the whole
  vocabulary every step): what sampling costs over greedy on this vocabulary.
(A fused top-k-then-top-p processor was measured too, 0.84 vs 0.96 for transformers' own warpers on a
quiet 2-thread Xeon, and dropped.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--suite", default="persona-tales")
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    a = ap.parse_args()

    import copy

    import torch

    from evalkit.models.base import Request
    from evalkit.models.hf import FirstTokenTimer, HFModel, cpu_has_bf16, int8_dynamic
    from evalkit.models.registry import resolve_model
    from evalkit.suites import load_suite

    suite = load_suite(a.suite)
    reqs = [Request.from_item(suite, i) for i in suite.items[: a.batch]]
    spec = resolve_model(a.model, overrides={"dtype": "float32"})
    hf = HFModel(spec)
    hf.load()
    tok, fp32 = hf.tokenizer, hf.model
    texts = [hf.render(r) for r in reqs]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=not hf.use_chat)
    print(os.popen("uptime").read().strip())
    print(f"{a.model}: batch {len(texts)}, {a.tokens} new tokens each, torch threads {torch.get_num_threads()}, "
          f"cpu bf16 units: {cpu_has_bf16()}")

    models = {"fp32": fp32}
    want = set(filter(None, a.only.split(","))) or None
    if not want or "bf16" in want:
        models["bf16"] = copy.deepcopy(fp32).to(torch.bfloat16)
    if not want or "int8-dynamic" in want:
        models["int8"] = int8_dynamic(copy.deepcopy(fp32))

    greedy = dict(do_sample=False, temperature=None, top_p=None, top_k=None)
    variants = {
        "baseline": ("fp32", greedy),
        "bf16": ("bf16", greedy),
        "int8-dynamic": ("int8", greedy),
        "static-cache": ("fp32", {**greedy, "cache_implementation": "static"}),
        "streamer": ("fp32", {**greedy, "streamer": "timer"}),
        "sample": ("fp32", dict(do_sample=True, temperature=0.8, top_p=0.95, top_k=50)),
    }
    if want:
        variants = {k: v for k, v in variants.items() if k == "baseline" or k in want}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(a.rounds + 1):  # round 0 warms every variant up and is not counted
        for name, (mkey, kw) in variants.items():
            kw = dict(kw)
            if kw.get("streamer") == "timer":
                kw["streamer"] = FirstTokenTimer()
            torch.manual_seed(0)
            t = time.perf_counter()
            with torch.inference_mode():
                out = models[mkey].generate(**enc, max_new_tokens=a.tokens, min_new_tokens=a.tokens,
                                            pad_token_id=tok.pad_token_id, **kw)
            dt = time.perf_counter() - t
            assert out.shape[1] - enc["input_ids"].shape[1] == a.tokens
            if r:
                times[name].append(len(texts) * a.tokens / dt)
            print(f"round {r} {name}: {len(texts) * a.tokens / dt:.1f} tok/s", flush=True)
    base = statistics.median(times["baseline"])
    print(f"\n{'variant':<24}{'median tok/s':>14}{'ratio':>8}   all rounds")
    for name, tps in times.items():
        med = statistics.median(tps)
        print(f"{name:<24}{med:>14.1f}{med / base:>8.3f}   {', '.join(f'{x:.1f}' for x in tps)}")
    print(os.popen("uptime").read().strip())
    print("absolute tokens/s are under the load above; compare the ratios (interleaved, same process)")


if __name__ == "__main__":
    main()
