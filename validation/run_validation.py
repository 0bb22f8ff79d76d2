"""Compute every validation figure of the scorers and write docs/metrics.md (generated, never hand-typed).

    .venv/bin/python validation/run_validation.py            # full run (~1 h on 2 busy cores; cached)
    .venv/bin/python validation/run_validation.py --sample   # a quick look on small subsets, no docs

Data: EVALKIT_VALIDATION_DIR or ../shared/validation (read in place, never copied here).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from validation import checks, data  # noqa: E402
from validation.report import render  # noqa: E402

COHERENCE_PARTS = ["coherence_fluency", "coherence_order", "distinct_2", "coherence_relevance", "coherence_adjacent"]


def run(sample: bool, cache_dir: Path | None, log=print) -> dict:
    from evalkit.scorers.base import ScoringContext

    d = data.require_dir()
    res: dict = {"sample": sample, "started": time.strftime("%Y-%m-%d %H:%M")}
    context = ScoringContext()

    # HANNA
    t = time.time()
    df = data.hanna(d)
    if sample:
        df = df[df.prompt_id.isin(sorted(df.prompt_id.unique())[:6])]
    rows = [{"id": int(r.story_id), "story": r.story, "prompt": r.prompt, "model": r.model} for r in df.itertuples()]
    scored = checks.score_rows(rows, ["coherence", "repetition", "vocabulary"], context=context, cache_dir=cache_dir,
                               tag=f"hanna{'-sample' if sample else ''}")
    frame = checks.hanna_frame(df, scored)
    frame["neg_coherence_adjacent"] = -frame["coherence_adjacent"]
    frame["neg_seq_rep_4"] = -frame["seq_rep_4"]
    boot = 200 if sample else checks.BOOT
    cols = ["coherence", "coherence_fluency", "coherence_order", "distinct_2", "coherence_relevance",
            "coherence_adjacent", "neg_coherence_adjacent", "neg_seq_rep_4", "mtld", "n_words"]
    res["hanna"] = {c: checks.hanna_taus(frame, c, boot=boot) for c in cols}
    res["hanna_relevance"] = {c: checks.hanna_taus(frame, c, "Relevance", boot=boot)
                              for c in ("coherence", "coherence_relevance")}
    res["hanna_ablation"] = checks.coherence_ablation(frame, boot=200)
    half = frame.prompt_id % 4 == 0
    res["hanna_halves"] = {"A": checks.hanna_taus(frame[half], "coherence", boot=200),
                           "B": checks.hanna_taus(frame[~half], "coherence", boot=200),
                           "n_A": int(frame[half].prompt_id.nunique()), "n_B": int(frame[~half].prompt_id.nunique())}
    res["hanna_system_means"] = (frame.groupby("model")[["Coherence", "coherence", "coherence_fluency", "coherence_order",
                                                          "distinct_2", "coherence_relevance", "coherence_adjacent"]]
                                 .mean().sort_values("Coherence").round(4).reset_index().to_dict("records"))
    res["part_stats"] = checks.part_stats(frame)
    res["hanna_n"] = {"stories": len(frame), "prompts": int(frame.prompt_id.nunique())}
    log(f"hanna: {time.time() - t:.0f}s coherence {res['hanna']['coherence']}")

    # ROC shuffle pairs
    t = time.time()
    pairs = data.roc_pairs(d)[: 60 if sample else None]
    orig = checks.score_rows([{"id": p["id"], "story": " ".join(p["original"])} for p in pairs], ["coherence"],
                             context=context, cache_dir=cache_dir, tag=f"roc-orig{'-sample' if sample else ''}")
    shuf = checks.score_rows([{"id": p["id"], "story": " ".join(p["shuffled"])} for p in pairs], ["coherence"],
                             context=context, cache_dir=cache_dir, tag=f"roc-shuf{'-sample' if sample else ''}")
    res["roc"] = checks.shuffle_accuracy(orig, shuf, ["coherence", "coherence_fluency", "coherence_order", "coherence_adjacent"])
    log(f"roc: {time.time() - t:.0f}s {res['roc']['coherence']}")

    # children's corpora: repetition injection, reading level, vocabulary, word list
    t = time.time()
    corpora = data.children_corpora(d)
    res["dose"] = checks.repetition_dose_response(corpora, per_corpus=15 if sample else 100)
    levels_in = {k: v[:40] if sample else v for k, v in corpora.items()}
    levels_in["HANNA human (adult WritingPrompts)"] = df[df.model == "Human"].story.tolist()
    res["levels"] = checks.corpus_levels(levels_in, boot=200 if sample else checks.BOOT)
    res["reference_ranges"] = data.reference_ranges(d).to_dict("records")
    log(f"corpora: {time.time() - t:.0f}s")

    # genre
    res["genre"] = genre_validation(context)
    res["finished"] = time.strftime("%Y-%m-%d %H:%M")
    return res


def genre_validation(context) -> dict | None:
    import json

    from evalkit.errors import EvalkitError
    from evalkit.suites import SUITES_DIR, SuiteItem, load_suite

    try:
        suite = load_suite("persona-tales")
        items, genres, source = suite.items, suite.genres, f"suites/persona-tales ({len(suite.items)} stories)"
    except EvalkitError:
        drafts = sorted((SUITES_DIR / "persona-tales" / "_drafts").glob("*.jsonl"))
        if not drafts:
            return None
        rows = [json.loads(x) for f in drafts for x in f.read_text().splitlines() if x.strip()]
        items = [SuiteItem(r["id"], r["genre"], (), r["prompt"], r["story"], r["split"]) for r in rows]
        genres = load_suite("smoke").genres
        source = f"suites/persona-tales/_drafts ({len(items)} draft stories)"
    out = checks.genre_check(items, genres, context)
    out["source"] = source
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", action="store_true", help="small subsets, quick; does not write docs")
    ap.add_argument("-o", "--out", type=Path, default=data.REPO / "docs" / "metrics.md")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "evalkit" / "validation",
                    help="cache of scored rows (delete it to recompute)")
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.sample, None if args.no_cache else args.cache)
    text = render(res)
    if args.sample:
        print(text)
    else:
        from evalkit.records import write_text

        write_text(args.out, text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
