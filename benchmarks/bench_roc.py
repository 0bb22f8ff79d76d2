"""Coherence scoring speed on ROC stories (issue 16 goal: 2,000 ROC stories <= 5 min on 2 cores).

    nice -n 10 .venv/bin/python -u benchmarks/bench_roc.py [--pairs 1000] [--lm MODEL]

Times `evalkit validate`'s ROC shuffle check without the score cache: --pairs originals and their
shuffled twins (2 x pairs stories) through the coherence scorer, after the scoring LM and MiniLM are
loaded, and prints the check's accuracy. Needs ../shared/validation (roc_val_shuffle_pairs.jsonl).
--lm reads with another scoring LM (a preset such as qwen2.5-coder-1.5b, a folder or a .gguf file):
its coherence_order accuracy is the LM's log-prob shuffle test (original vs shuffle, same baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--lm", help="scoring LM: a preset, folder or .gguf file (default SmolLM2-135M)")
    ap.add_argument("--out", help="also write the figures to this JSON file")
    a = ap.parse_args()

    from evalkit.scorers.base import ScoringContext
    from evalkit.scorers.coherence import CoherenceScorer
    from evalkit.scorers.lm import get_lm
    from evalkit.validate.checks import data_dir, roc_shuffle

    d = data_dir()
    if d is None:
        sys.exit("../shared/validation not found")
    ctx = ScoringContext(options={"lm": {"path": lm_path(a.lm)}} if a.lm else {})
    t = time.perf_counter()
    lm = get_lm(ctx)
    print(f"scoring LM {lm.name} ({lm.dtype}) loaded in {time.perf_counter() - t:.1f} s", flush=True)
    ctx.embed(["warm-up"])
    print(f"load before: {os.getloadavg()[0]:.2f}", flush=True)
    t = time.perf_counter()
    load_before = os.getloadavg()[0]
    res = roc_shuffle(d, a.pairs, [CoherenceScorer()], ctx, None, ["coherence", "coherence_order", "coherence_fluency"])
    dt = time.perf_counter() - t
    print(f"{2 * a.pairs} ROC stories scored in {dt:.1f} s (goal <= 300 s for 2,000); load after: "
          f"{os.getloadavg()[0]:.2f}")
    print("shuffle accuracy:", {m: round(v.get("accuracy", float("nan")), 3) for m, v in res.items()})
    if a.out:
        record = {"lm": lm.name, "dtype": str(lm.dtype), "pairs": a.pairs, "seconds": round(dt, 1),
                  "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)], "accuracy": res}
        Path(a.out).write_text(json.dumps(record, indent=2) + "\n")


def lm_path(arg: str) -> str:
    """The weights a model argument names, as the scoring option lm.path takes them."""
    from evalkit.models.hf import HFModel
    from evalkit.models.registry import resolve_model

    r = HFModel(resolve_model(arg)).resolved()
    return r["gguf"] or r["source"]


if __name__ == "__main__":
    main()
