"""Genre scorer cost in a fresh process, as a first run pays it: fit at first use (features, the
out-of-fold record and the final fit, into a private empty model cache), then scoring 100 suite
stories; then the same from the disk cache, as every later run does.

    .venv/bin/python benchmarks/bench_genre.py [--n 100] [--json out.json]

Prints whether sentence_transformers / torch were imported: for the chosen text-only model they must
not be. Prints the load average: on a shared machine other processes slow every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    os.environ["EVALKIT_CACHE"] = tempfile.mkdtemp(prefix="bench-genre-")  # cold: nothing fitted yet
    out: dict = {"load_avg_before": os.getloadavg()[0]}
    from evalkit.scorers.base import ScoringContext, StoryInput
    from evalkit.scorers.genre import GenreScorer, build_genre_model
    from evalkit.suites import default_suite_name, load_suite

    suite = load_suite(default_suite_name())
    items = (suite.items * (args.n // len(suite.items) + 1))[: args.n]
    batch = [StoryInput.from_item(i, i.story + ("" if k < len(suite.items) else f" ({k})"))
             for k, i in enumerate(items)]
    ctx = ScoringContext(suite=suite)
    t = time.perf_counter()
    model = build_genre_model(ctx)
    out["first_use_fit_s"] = time.perf_counter() - t
    out["model"] = model.describe() if model else None
    t = time.perf_counter()
    GenreScorer().score(batch, ctx)
    out[f"score_{args.n}_s"] = time.perf_counter() - t
    ctx = ScoringContext(suite=suite)
    t = time.perf_counter()
    again = build_genre_model(ctx)
    out["cached_load_s"] = time.perf_counter() - t
    out["from_cache"] = again.from_cache
    out["imported"] = [m for m in ("sentence_transformers", "torch") if m in sys.modules]
    out["load_avg_after"] = os.getloadavg()[0]
    for k, v in out.items():
        print(f"{k:20s} {v:.2f}" if isinstance(v, float) else f"{k:20s} {v}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
