"""Coherence scoring speed on ROC stories (issue 16 goal: 2,000 ROC stories <= 5 min on 2 cores).

    nice -n 10 .venv/bin/python -u benchmarks/bench_roc.py [--pairs 1000]

Times `evalkit validate`'s ROC shuffle check without the score cache: --pairs originals and their
shuffled twins (2 x pairs stories) through the coherence scorer, after the scoring LM and MiniLM are
loaded, and prints the check's accuracy. Needs ../shared/validation (roc_val_shuffle_pairs.jsonl).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=1000)
    a = ap.parse_args()

    from evalkit.scorers.base import ScoringContext
    from evalkit.scorers.coherence import CoherenceScorer
    from evalkit.scorers.lm import get_lm
    from evalkit.validate.checks import data_dir, roc_shuffle

    d = data_dir()
    if d is None:
        sys.exit("../shared/validation not found")
    ctx = ScoringContext()
    get_lm(ctx)
    ctx.embed(["warm-up"])
    print(f"load before: {os.getloadavg()[0]:.2f}", flush=True)
    t = time.perf_counter()
    res = roc_shuffle(d, a.pairs, [CoherenceScorer()], ctx, None, ["coherence"])
    dt = time.perf_counter() - t
    print(f"{2 * a.pairs} ROC stories scored in {dt:.1f} s (goal <= 300 s for 2,000); load after: "
          f"{os.getloadavg()[0]:.2f}")
    print("shuffle accuracy:", {m: round(v.get("accuracy", float("nan")), 3) for m, v in res.items()})


if __name__ == "__main__":
    main()
