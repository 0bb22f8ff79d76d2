"""Scorer speed on 100 suite stories, after the models are loaded.

    .venv/bin/python benchmarks/bench_scorers.py [--n 100] [--json out.json]

Targets: every scorer together <= 20 s per 100 stories after load (issue 25; issue 4 asked embedding +
lexical <= 10 s); each scorer is timed on its own. Runs under evalkit's thread policy unless --threads.
Prints the load average too: on a shared machine other processes slow every figure.
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

LEXICAL = ["repetition", "vocabulary", "characters", "reading_level"]
EMBEDDING = ["genre", "creativity"]


def stories(n: int):
    from evalkit.scorers.base import StoryInput
    from evalkit.suites import default_suite_name, load_suite

    suite = load_suite(default_suite_name())
    items = (suite.items * (n // len(suite.items) + 1))[:n]
    # the human reference stories stand in for generated ones: same genres, lengths and characters
    return suite, [StoryInput.from_item(i, i.story + ("" if k < len(suite.items) else f" ({k})"))
                   for k, i in enumerate(items)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-lm", action="store_true")
    ap.add_argument("--threads", type=int, help="threads (default: evalkit's thread policy, as a run would)")
    args = ap.parse_args(argv)

    from evalkit.threads import configure

    policy = configure(args.threads, "--threads", watch=args.threads is None)  # before torch loads, as the CLI

    import torch

    from evalkit.scorers.base import ScoringContext
    from evalkit.scorers.embeddings import load_embedder
    from evalkit.scorers.lm import ScoringLM
    from evalkit.scorers.text import clean
    from evalkit.scoring import load_scorers, score_stories

    suite, batch = stories(args.n)
    out = {"n_stories": len(batch), "suite": suite.name, "thread_policy": policy.record(),
           "torch_threads": torch.get_num_threads(),
           "cpus": os.cpu_count(), "load_avg_before": os.getloadavg()[0]}
    t = time.perf_counter()
    embedder = load_embedder(None)
    lm = None if args.skip_lm else ScoringLM()
    out["load_s"] = time.perf_counter() - t

    def fresh() -> ScoringContext:  # models loaded, caches empty: nothing of a previous pass is reused
        ctx = ScoringContext(suite=suite)
        ctx.shared["embedder"] = embedder
        if lm is not None:
            ctx.shared["scoring_lm"] = lm
        return ctx

    from evalkit.scorers.genre import build_genre_model

    # per-run setup, timed on its own: the genre classifier fits on the suite's train stories and the
    # genre corpus (text only: no embedding), or loads the fit from its disk cache
    ctx = fresh()
    t = time.perf_counter()
    model = build_genre_model(ctx)
    out["genre_fit_s"] = time.perf_counter() - t
    out["genre_model"] = model.describe() if model else None

    out["lexical_s"] = out["embedding_s"] = 0.0
    for name in LEXICAL + EMBEDDING:  # one at a time: each scorer's own figure (the first embedder user
        t = time.perf_counter()       # pays the run's one embedding pass)
        score_stories(batch, load_scorers([name]), ctx)
        out[f"{name}_s"] = time.perf_counter() - t
        out["lexical_s" if name in LEXICAL else "embedding_s"] += out[f"{name}_s"]
    out["embedding_plus_lexical_s"] = out["lexical_s"] + out["embedding_s"]

    if lm is not None:
        ctx = fresh()
        ctx.embed([clean(s.text) for s in batch])  # the run's one embedding pass is counted above
        t = time.perf_counter()
        res = score_stories(batch, load_scorers(["coherence"]), ctx)
        out["coherence_lm_s"] = time.perf_counter() - t
        out["coherence_scored"] = sum(r.values.get("coherence") is not None for r in res)
        out["lm_dtype"] = str(lm.dtype)
    out["load_avg_after"] = os.getloadavg()[0]
    for k, v in out.items():
        print(f"{k:28s} {v:.2f}" if isinstance(v, float) else f"{k:28s} {v}")
    every = out["embedding_plus_lexical_s"] + out.get("coherence_lm_s", 0.0)
    print(f"targets: embedding+lexical <= 10 s per 100 stories -> {out['embedding_plus_lexical_s'] * 100 / len(batch):.1f} s"
          + (f"; every scorer <= 20 s per 100 -> {every * 100 / len(batch):.1f} s" if lm else " (coherence skipped)"))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
