"""Generation throughput of the hf backend (issue 16's goals). Run by hand, not in tests:

    nice -n 10 .venv/bin/python -u benchmarks/bench_generate.py [--quick] [--model smollm2-135m]

1. evalkit's HFModel.generate vs a bare transformers ``generate`` loop: same loaded model, prompts,
   batch and sampling parameters (evalkit's defaults, seeded, so both draw the same tokens); tokens/s of
   each and the ratio (goal >= 0.95).
2. batch --stories vs batch 1 tokens/s through evalkit (goal >= 3).
Runs are interleaved (evalkit, bare, evalkit, bare, …; batch 10 and batch 1 alternate too) after one
warm-up of each, and each figure is the median over --rounds, so a load spike from other processes
hits both sides alike. The load average is printed before and after: on a loaded machine read the
ratios, not the absolute tokens/s. --quick: 32 new tokens, 2 rounds, 3 stories at batch 1 (~1-2 min).
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
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--stories", type=int, default=10, help="stories, all in one batch")
    ap.add_argument("--batch1-stories", type=int, default=5, help="stories generated one at a time for batch 1")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="32 tokens, 2 rounds, 3 stories at batch 1")
    ap.add_argument("--threads", type=int, help="threads (default: evalkit's thread policy, as a compare would)")
    a = ap.parse_args()
    if a.quick:
        a.tokens, a.rounds, a.batch1_stories = 32, 2, 3

    from evalkit.threads import configure

    # before torch loads, as `evalkit compare` does: both loops run under the same policy
    policy = configure(a.threads, "--threads", watch=a.threads is None)
    print("thread policy:", policy.record(), flush=True)

    import torch
    from transformers import set_seed

    from evalkit.models.base import Request
    from evalkit.models.registry import load_backend, resolve_model
    from evalkit.records import GenerationParams
    from evalkit.suites import load_suite

    print("load:", os.popen("uptime").read().strip(), flush=True)
    suite = load_suite(a.suite)
    reqs = [Request.from_item(suite, i) for i in suite.items[: a.stories]]
    spec = resolve_model(a.model)
    model = load_backend(spec.backend)(spec)
    t0 = time.perf_counter()
    model.load()
    print(f"{a.model}: loaded in {time.perf_counter() - t0:.1f} s, dtype {model.model.dtype}, "
          f"torch threads {torch.get_num_threads()}, {len(reqs)} stories, {a.tokens} new tokens max", flush=True)
    params = GenerationParams(max_new_tokens=a.tokens, batch_size=len(reqs))  # evalkit's default sampling
    tok, m = model.tokenizer, model.model
    ids = [tok(model.render(r), add_special_tokens=not model.use_chat)["input_ids"] for r in reqs]
    eos = tok.eos_token_id

    def evalkit_run(rs: list[Request], batch: int) -> tuple[int, float]:
        t = time.perf_counter()
        gens = model.generate(rs, params.model_copy(update={"batch_size": batch}))
        return sum(g.completion_tokens or 0 for g in gens), time.perf_counter() - t

    def bare_run() -> tuple[int, float]:
        t, n = time.perf_counter(), 0
        enc = tok.pad({"input_ids": ids}, padding=True, return_tensors="pt")
        set_seed(params.seed)
        with torch.inference_mode():
            out = m.generate(**enc, max_new_tokens=a.tokens, do_sample=True, temperature=params.temperature,
                             top_p=params.top_p, top_k=params.top_k or None, pad_token_id=tok.pad_token_id)
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            n += next((j + 1 for j, x in enumerate(row) if x == eos), len(row))
        return n, time.perf_counter() - t

    runs = {
        f"evalkit batch {len(reqs)}": lambda: evalkit_run(reqs, len(reqs)),
        f"bare transformers batch {len(reqs)}": bare_run,
        "evalkit batch 1": lambda: evalkit_run(reqs[: a.batch1_stories], 1),
    }
    tps: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(a.rounds + 1):  # round 0 is the warm-up
        for name, fn in runs.items():
            n, dt = fn()
            if r:
                tps[name].append(n / dt)
        if r:
            print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.1f} tok/s" for k, v in tps.items()), flush=True)
    med = {k: statistics.median(v) for k, v in tps.items()}
    e10, b10, e1 = med.values()
    print(f"\nmedian of {a.rounds} interleaved rounds:")
    print(f"batch {len(reqs)}: evalkit {e10:.1f} tok/s, bare transformers {b10:.1f} tok/s, "
          f"ratio {e10 / b10:.3f} (goal >= 0.95)")
    print(f"batch 1: evalkit {e1:.1f} tok/s; batch {len(reqs)} / batch 1 = {e10 / e1:.2f} (goal >= 3)")
    print("load:", os.popen("uptime").read().strip())
    print("absolute tokens/s are under the load printed above; the ratios are measured interleaved")


if __name__ == "__main__":
    main()
