"""Evaluate the genre classifier and write evalkit/scorers/genre_corpus/evaluation.json and docs/genre.md.

    .venv/bin/python scripts/genre_eval.py                 # choose by cross-validation, write both
    .venv/bin/python scripts/genre_eval.py --locked-test   # ... and score the corpus' locked test part once
    .venv/bin/python scripts/genre_eval.py --render        # only rewrite the docs from evaluation.json
    .venv/bin/python scripts/genre_eval.py --check         # exit 1 if the docs do not match evaluation.json

The docs: docs/genre.md, and the genre section of docs/metrics.md, which `evalkit validate --docs`
renders from the same record (evalkit.scorers.genre.validation_markdown); here only that section is
replaced, so the genre figures there follow evaluation.json without rerunning the whole validation.

Training stories: the corpus' train part plus persona-tales' train split (the scorer's training set for
persona-tales). Candidates and the calibration are chosen by out-of-fold results (leave one writer out);
the locked test part is only predicted after every choice is made.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs/genre.md"
METRICS = ROOT / "docs/metrics.md"
GENRE_HEADING = "## Genre adherence"


def with_genre_section(metrics: str, section: str) -> str:
    """docs/metrics.md with its genre section (its heading up to the next level-2 heading, or the end)
    replaced by ``section``, joined as evalkit.validate.docs.render joins it."""
    i = metrics.find(GENRE_HEADING)
    if i < 0:
        return metrics.rstrip() + "\n\n" + section.rstrip() + "\n"
    j = metrics.find("\n## ", i + len(GENRE_HEADING))
    rest = metrics[j + 1:] if j >= 0 else ""
    return (metrics[:i] + section + ("\n" + rest if rest else "")).rstrip() + "\n"


def rendered() -> dict[Path, str]:
    """What the docs should say, from the stored evaluation."""
    from evalkit.scorers import _genre_eval as ge, genre_classifier as gc
    from evalkit.scorers.genre import validation_markdown

    ev = ge.GenreEvaluation.model_validate_json(gc.EVALUATION_FILE.read_text(encoding="utf-8"))
    out = {DOC: ge.render_markdown(ev)}
    if METRICS.exists():
        out[METRICS] = with_genre_section(METRICS.read_text(encoding="utf-8"), validation_markdown())
    return out


def main(argv=None) -> int:
    from evalkit.scorers import _genre_eval as ge, genre_classifier as gc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locked-test", action="store_true", help="score the locked test part (once, at the end)")
    ap.add_argument("--check", action="store_true", help="only check docs/genre.md against evaluation.json")
    ap.add_argument("--render", action="store_true", help="only rewrite docs/genre.md from evaluation.json")
    args = ap.parse_args(argv)
    if args.render:
        for path, text in rendered().items():
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if args.check:
        stale = [p for p, text in rendered().items() if p.read_text(encoding="utf-8") != text]
        for p in stale:
            print(f"{p} is out of date; run scripts/genre_eval.py --render", file=sys.stderr)
        if not stale:
            print("docs/genre.md and the genre section of docs/metrics.md are up to date")
        return 1 if stale else 0

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from evalkit.scorers.base import ScoringContext
    from evalkit.suites import load_suite

    suite = load_suite("persona-tales")
    ctx = ScoringContext(suite=suite)
    stories = gc.training_stories(suite.genres, suite.items, group=suite.name)
    t0 = time.perf_counter()
    gc.feature_frame([s.text for s in stories], ctx, suite.genres)  # embeds once for all below
    print(f"features for {len(stories)} stories: {time.perf_counter() - t0:.1f}s", flush=True)
    cands, best = ge.compare_candidates(stories, suite.genres, ctx)
    print({k: round(v.accuracy, 3) for k, v in cands.items()}, "->", best, flush=True)
    cal, method = ge.compare_calibrations(stories, suite.genres, ctx, best)
    print({k: round(v, 3) for k, v in cal.items()}, "->", method, flush=True)
    # first use, as the scorer does it in a fresh process: only the chosen model's features (for a
    # text-only model, no MiniLM at all), the out-of-fold record and the final fit
    first = ScoringContext(suite=suite)
    if gc.needs_embeddings(best):  # embedding cost is counted in the features line above
        first.shared["embedder"] = ctx.shared["embedder"]
    t0 = time.perf_counter()
    fitted, ev = ge.fit_genre_model(stories, suite.genres, first, best, method)
    ev.first_use_seconds = round(time.perf_counter() - t0, 2)
    print(f"first-use fit (features, out-of-fold before/after calibration, final fit): "
          f"{ev.first_use_seconds:.1f}s; load {os.getloadavg()}", flush=True)
    ev.candidates, ev.calibration_ece = cands, cal
    print(ev.summary(), f"final fit {ev.fit_seconds}s", flush=True)
    names = sorted(suite.genres)
    fresh = ScoringContext(suite=suite)  # nothing embedded yet: the timing includes any embedding
    if gc.needs_embeddings(best):
        fresh.shared["embedder"] = ctx.shared["embedder"]
    hundred = [s.text for s in stories[:100]]
    t0 = time.perf_counter()
    gc.predict_proba(fitted, gc.feature_frame(hundred, fresh, suite.genres, best), names)
    ev.score_100_seconds = round(time.perf_counter() - t0, 2)
    ev.timing_load = round(os.getloadavg()[0], 2)
    print(f"scoring {len(hundred)} stories (features included): {ev.score_100_seconds:.1f}s; "
          f"load {os.getloadavg()}", flush=True)
    if args.locked_test:
        test = [s for s in gc.load_corpus() if s.part == "test"]
        proba = gc.predict_proba(fitted, gc.feature_frame([s.text for s in test], ctx, suite.genres, best), names)
        ev.locked_test = ge.score(proba, test, names)
        t = ev.locked_test
        print(f"locked test: {t.accuracy:.3f} [{t.accuracy_low:.3f}-{t.accuracy_high:.3f}] n={t.n}; mixed-cue "
              f"{t.mixed_cue_accuracy:.3f} n={t.n_mixed_cue}; ECE {t.ece:.3f}", flush=True)
    gc.EVALUATION_FILE.write_text(ev.model_dump_json(indent=1, by_alias=True) + "\n", encoding="utf-8")
    print(f"wrote {gc.EVALUATION_FILE.relative_to(ROOT)}")
    return main(["--render"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
