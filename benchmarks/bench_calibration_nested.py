"""Issue 17's goals with nothing fitted on the prompts measured: the coherence weights (ridge on the
machine stories, penalty by inner grouped CV) and the isotonic star calibration are both fitted out of
fold, grouped by prompt, on every prompt of the ratings file; per system, the mean calibrated stars
against people's mean rating (goal: within 0.4 on average across systems; human-written stories >= 4).

    nice -n 10 .venv/bin/python -u benchmarks/bench_calibration_nested.py [../shared/validation/hanna_dev.csv]

Stories are scored through the per-story score cache (results/.cache/scores), so after
``evalkit validate`` a run scores nothing. bench_calibration_heldout.py measures the shipped files on
the prompts their calibration was not fitted on (the shipped weights saw every prompt).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO.parent / "shared" / "validation" / "hanna_dev.csv"


def main() -> None:
    import numpy as np

    from evalkit.calibration import cross_validate
    from evalkit.score_cache import DEFAULT_SUBDIR
    from evalkit.scorers.base import ScoringContext
    from evalkit.scorers.coherence import PARTS, CoherenceScorer
    from evalkit.validate.crossval import cross_validated_ridge
    from evalkit.validate.pipeline import score_ratings
    from evalkit.validate.ratings import load_ratings

    ap = argparse.ArgumentParser()
    ap.add_argument("ratings", nargs="?", default=str(DEFAULT))
    ap.add_argument("--folds", type=int, default=5)
    a = ap.parse_args()
    ratings = load_ratings(a.ratings)
    frame = ratings.frame
    print(f"load before: {os.popen('uptime').read().strip()}")
    t = time.perf_counter()
    scores = score_ratings(ratings, [CoherenceScorer()], ScoringContext(), REPO / "results" / DEFAULT_SUBDIR)
    print(f"scored {len(frame)} stories in {time.perf_counter() - t:.0f} s")
    y = frame["Coherence"].to_numpy(float)
    groups, systems = frame["group"].to_numpy(), frame["system"].to_numpy()
    machine = systems != (ratings.human_system or "")
    parts = list(PARTS)
    score, _ = cross_validated_ridge(scores[parts].to_numpy(float), y, groups, a.folds, fit_mask=machine)
    err, _ = cross_validate(score, y, groups, systems, "isotonic", True, a.folds)
    print(f"Coherence stars, weights and calibration both out of fold ({a.folds} folds by prompt, "
          f"{len(set(groups.tolist()))} prompts): story MAE {err.mae:.3f}, system MAE {err.system_mae:.3f} (goal <= 0.4)")
    for r in sorted(err.systems, key=lambda r: r.human):
        print(f"  {r.system:<16} people {r.human:.2f}  calibrated stars {r.predicted:.2f}  ({r.error:+.2f})")
    human = next((r for r in err.systems if r.system == ratings.human_system), None)
    if human is not None:
        verdict = "meets" if human.predicted >= 4 else "misses"
        print(f"human-written stories: {human.predicted:.2f} stars (people {human.human:.2f}; goal >= 4: {verdict})")
    print(f"mean |error| over machine systems only: "
          f"{np.mean([abs(r.error) for r in err.systems if r.system != ratings.human_system]):.3f}")
    print(f"load after: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
