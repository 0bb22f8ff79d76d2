"""Coherence scoring time by scoring LM and tokens per forward pass (evalkit.scorers.lm.BATCH_TOKENS).

    nice -n 10 .venv/bin/python -u benchmarks/bench_scoring_lm.py [--stories N]

Scores the persona-tales test and validation references (their openings and shuffles, as the coherence
scorer does) with SmolLM2-135M and Gemma 3 270M at several batch sizes, models loaded and warmed first.
The logits (tokens x vocabulary floats) dominate the memory traffic: Gemma 3's vocabulary is 5x
SmolLM2's. Prints the load average: on a loaded machine only the ratios mean anything.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stories", type=int, default=20)
    ap.add_argument("--sizes", default="4096,1024,512,256")
    a = ap.parse_args()

    from evalkit.scorers.base import ScoringContext, StoryInput
    from evalkit.scorers.coherence import CoherenceScorer
    from evalkit.scorers.lm import ALTERNATIVES, _resolve_lm, get_lm
    from evalkit.scoring import score_stories
    from evalkit.suites import load_suite

    suite = load_suite("persona-tales")
    items = [i for i in suite.items if i.split in ("test", "validation")][: a.stories]
    stories = [StoryInput.from_item(i, i.story) for i in items]
    print(f"{len(stories)} stories; load {os.getloadavg()[0]:.2f}", flush=True)
    for name, path in (("SmolLM2-135M", None), ("Gemma 3 270M", str(_resolve_lm(ALTERNATIVES[0])))):
        for size in (int(x) for x in a.sizes.split(",")):
            lm = {"batch_tokens": size} | ({"path": path} if path else {})
            ctx = ScoringContext(suite=suite, options={"lm": lm})
            get_lm(ctx)
            ctx.embed(["warm-up"])
            score_stories(stories[:2], [CoherenceScorer()], ctx)  # warm-up, not timed
            t = time.perf_counter()
            score_stories(stories, [CoherenceScorer()], ctx)
            print(f"{name:14s} batch_tokens {size:5d}: {time.perf_counter() - t:6.1f} s "
                  f"(load {os.getloadavg()[0]:.2f})", flush=True)


if __name__ == "__main__":
    main()
