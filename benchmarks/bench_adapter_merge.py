"""Decode speed of the demo's LoRA model with the adapter kept as PEFT layers vs merged into the base
weights (what HFModel does for an unquantized base), and of the base alone: same prompts, greedy.

    nice -n 10 .venv/bin/python benchmarks/bench_adapter_merge.py [--batch 10] [--tokens 64]
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=64)
    a = ap.parse_args()
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalkit.models.gguf import dequantized_folder
    from evalkit.models.hf import HFModel
    from evalkit.models.registry import resolve_model

    spec = resolve_model("smollm2-135m-persona")
    r = HFModel(spec).resolved()
    folder = dequantized_folder(r["gguf"])
    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    prompts = [f"Write a short story for children about a fox number {i}." for i in range(a.batch)]
    enc = tok(prompts, return_tensors="pt", padding=True)
    print(f"load: {os.popen('uptime').read().strip()}")

    def timed(model, label):
        with torch.inference_mode():
            t = time.perf_counter()
            out = model.generate(**enc, max_new_tokens=a.tokens, min_new_tokens=a.tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
            dt = time.perf_counter() - t
        n = (out.shape[1] - enc["input_ids"].shape[1]) * a.batch
        print(f"{label:>16}: {n / dt:7.1f} tok/s ({dt:.1f} s, batch {a.batch})", flush=True)
        return out

    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    timed(base, "base")
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32),
                                     r["adapter"], is_trainable=False).eval()
    o1 = timed(peft, "adapter (PEFT)")
    merged = peft.merge_and_unload().eval()
    o2 = timed(merged, "adapter merged")
    print("same greedy tokens:", bool((o1 == o2).all()))


if __name__ == "__main__":
    main()
