"""Evaluate the genre classifier and write evalkit/scorers/genre_corpus/evaluation.json and docs/genre.md.

    .venv/bin/python scripts/genre_eval.py                 # choose by cross-validation, write both
    .venv/bin/python scripts/genre_eval.py --locked-test   # ... and score the corpus' locked test part once
    .venv/bin/python scripts/genre_eval.py --render        # only rewrite docs/genre.md from evaluation.json
    .venv/bin/python scripts/genre_eval.py --check         # exit 1 if docs/genre.md does not match evaluation.json

Training stories: the corpus' train part plus persona-tales' train split (the scorer's training set for
persona-tales). Candidates and the calibration are chosen by out-of-fold results (leave one writer out);
the locked test part is only predicted after every choice is made.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs/genre.md"


def main(argv=None) -> int:
    from evalkit.scorers import _genre_eval as ge, genre_classifier as gc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locked-test", action="store_true", help="score the locked test part (once, at the end)")
    ap.add_argument("--check", action="store_true", help="only check docs/genre.md against evaluation.json")
    ap.add_argument("--render", action="store_true", help="only rewrite docs/genre.md from evaluation.json")
    args = ap.parse_args(argv)
    if args.render:
        ev = ge.GenreEvaluation.model_validate_json(gc.EVALUATION_FILE.read_text(encoding="utf-8"))
        DOC.write_text(ge.render_markdown(ev), encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
        return 0
    if args.check:
        ev = ge.GenreEvaluation.model_validate_json(gc.EVALUATION_FILE.read_text(encoding="utf-8"))
        if DOC.read_text(encoding="utf-8") != ge.render_markdown(ev):
            print(f"{DOC} is out of date; run scripts/genre_eval.py", file=sys.stderr)
            return 1
        print(f"{DOC} is up to date")
        return 0

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from evalkit.scorers.base import ScoringContext
    from evalkit.suites import load_suite

    suite = load_suite("persona-tales")
    ctx = ScoringContext(suite=suite)
    stories = gc.training_stories(suite.genres, suite.items, group=suite.name)
    t0 = time.perf_counter()
    ctx_frame = gc.feature_frame([s.text for s in stories], ctx, suite.genres)  # embeds once for all below
    print(f"features for {len(stories)} stories: {time.perf_counter() - t0:.1f}s", flush=True)
    cands, best = ge.compare_candidates(stories, suite.genres, ctx)
    print({k: round(v.accuracy, 3) for k, v in cands.items()}, "->", best, flush=True)
    cal, method = ge.compare_calibrations(stories, suite.genres, ctx, best)
    print({k: round(v, 3) for k, v in cal.items()}, "->", method, flush=True)
    t0 = time.perf_counter()
    fitted, ev = ge.fit_genre_model(stories, suite.genres, ctx, best, method)
    print(f"fit_genre_model (out-of-fold before/after calibration + final fit, features cached): "
          f"{time.perf_counter() - t0:.1f}s; load {os.getloadavg()}", flush=True)
    ev.candidates, ev.calibration_ece = cands, cal
    print(ev.summary(), f"final fit {ev.fit_seconds}s", flush=True)
    names = sorted(suite.genres)
    fresh = ScoringContext(suite=suite)  # nothing embedded yet: the timing includes MiniLM
    fresh.shared["embedder"] = ctx.shared["embedder"]
    hundred = [s.text for s in stories[:100]]
    t0 = time.perf_counter()
    gc.predict_proba(fitted, gc.feature_frame(hundred, fresh, suite.genres), names)
    print(f"scoring {len(hundred)} stories (embedding included): {time.perf_counter() - t0:.1f}s; "
          f"load {os.getloadavg()}", flush=True)
    if args.locked_test:
        test = [s for s in gc.load_corpus() if s.part == "test"]
        proba = gc.predict_proba(fitted, gc.feature_frame([s.text for s in test], ctx, suite.genres), names)
        ev.locked_test = ge.score(proba, test, names)
        t = ev.locked_test
        print(f"locked test: {t.accuracy:.3f} [{t.accuracy_low:.3f}-{t.accuracy_high:.3f}] n={t.n}; mixed-cue "
              f"{t.mixed_cue_accuracy:.3f} n={t.n_mixed_cue}; ECE {t.ece:.3f}", flush=True)
    gc.EVALUATION_FILE.write_text(ev.model_dump_json(indent=1, by_alias=True) + "\n", encoding="utf-8")
    DOC.write_text(ge.render_markdown(ev), encoding="utf-8")
    print(f"wrote {gc.EVALUATION_FILE.relative_to(ROOT)} and {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
