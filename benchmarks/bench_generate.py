"""Generation throughput of the hf backend (issue 2's benchmarks). Run by hand, not in tests:

    .venv/bin/python benchmarks/bench_generate.py [--model smollm2-135m] [--tokens 200] [--stories 10]

1. evalkit's HFModel.generate vs a bare transformers generate loop: same model, prompts, batch and
   params (greedy); reports tokens/s of each and the ratio (goal >= 0.95).
2. batch 10 vs batch 1 tokens/s (goal >= 3).
Warm-up runs are excluded; each figure is the best of --repeats runs measured in this process.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--suite", default="persona-tales")
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--stories", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()

    import torch

    from evalkit.models.base import Request
    from evalkit.models.registry import load_backend, resolve_model
    from evalkit.records import GenerationParams
    from evalkit.suites import load_suite

    suite = load_suite(a.suite)
    items = suite.items[: a.stories]
    reqs = [Request.from_item(suite, i) for i in items]
    spec = resolve_model(a.model)
    model = load_backend(spec.backend)(spec)
    t0 = time.perf_counter()
    model.load()
    print(f"{a.model}: loaded in {time.perf_counter() - t0:.1f} s, dtype {model.model.dtype}, threads {torch.get_num_threads()}")

    def evalkit_tps(batch: int) -> float:
        p = GenerationParams(max_new_tokens=a.tokens, batch_size=batch, do_sample=False)
        best = 0.0
        for _ in range(a.repeats):
            t = time.perf_counter()
            gens = model.generate(reqs, p)
            best = max(best, sum(g.completion_tokens for g in gens) / (time.perf_counter() - t))
        return best

    def bare_tps(batch: int) -> float:
        tok, m = model.tokenizer, model.model
        texts = [model.render(r) for r in reqs]
        best = 0.0
        for _ in range(a.repeats):
            t, n = time.perf_counter(), 0
            for s in range(0, len(texts), batch):
                enc = tok(texts[s : s + batch], return_tensors="pt", padding=True, add_special_tokens=not model.use_chat)
                with torch.inference_mode():
                    out = m.generate(**enc, max_new_tokens=a.tokens, do_sample=False, pad_token_id=tok.pad_token_id)
                new = out[:, enc["input_ids"].shape[1]:]
                eos = tok.eos_token_id
                for row in new.tolist():
                    n += next((j + 1 for j, x in enumerate(row) if x == eos), len(row))
            best = max(best, n / (time.perf_counter() - t))
        return best

    evalkit_tps(a.stories)  # warm-up
    e10, b10 = evalkit_tps(a.stories), bare_tps(a.stories)
    e1 = evalkit_tps(1)
    print(f"batch {a.stories}: evalkit {e10:.1f} tok/s, bare transformers {b10:.1f} tok/s, ratio {e10 / b10:.3f}")
    print(f"batch 1: evalkit {e1:.1f} tok/s; batch {a.stories} / batch 1 = {e10 / e1:.2f}")


if __name__ == "__main__":
    main()
