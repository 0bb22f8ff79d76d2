"""Issue 17's goal on HANNA stories from prompts the shipped calibrations were not fitted on: per system,
the mean calibrated stars against people's mean rating (goal: within 0.4 on average across systems;
human-written stories >= 4 stars for Coherence).

    nice -n 10 .venv/bin/python -u benchmarks/bench_calibration_heldout.py [../shared/validation/hanna_dev.csv] [--prompts N]

The shipped calibrations record how many prompt groups they were fitted on ("partial fit: the first K of
48 prompts"); the held-out part is every later prompt group (at most --prompts of them). Stories are
scored through the per-story score cache (results/.cache/scores), so a rerun scores nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO.parent / "shared" / "validation" / "hanna_dev.csv"


def main() -> None:
    from evalkit.calibration import load_calibration
    from evalkit.calibration_fit import TARGETS, read_ratings, score_ratings

    ap = argparse.ArgumentParser()
    ap.add_argument("ratings", nargs="?", default=str(DEFAULT))
    ap.add_argument("--prompts", type=int, default=None, help="held-out prompt groups to use (default: all)")
    ap.add_argument("--metrics", default="coherence", help="comma-separated: coherence, creativity, mtld")
    a = ap.parse_args()
    metrics = [m for m in a.metrics.split(",") if m]
    cals = {m: load_calibration(f"hanna-{m}") for m in metrics}
    df = read_ratings(a.ratings, sorted({TARGETS[m][1] for m in metrics}))
    ids = sorted(set(df["group"]), key=lambda g: (0, int(g), "") if str(g).isdigit() else (1, 0, str(g)))
    fitted = min(c.data.groups for c in cals.values())
    m_ = re.search(r"first (\d+) of (\d+) prompts", next(iter(cals.values())).data.note)
    if m_:
        fitted = int(m_.group(1))
    held = ids[fitted:][: a.prompts] if a.prompts else ids[fitted:]
    if not held:
        raise SystemExit("no prompt group outside the calibrations' fit")
    df = df[df["group"].isin(held)].reset_index(drop=True)
    print(f"load before: {os.popen('uptime').read().strip()}")
    t = time.perf_counter()
    scored = score_ratings(df, metrics, log=lambda s: print(f"  [{time.perf_counter() - t:.0f}s] {s}", flush=True))
    print(f"scored {len(df)} stories of {len(held)} held-out prompts in {time.perf_counter() - t:.0f} s")
    for m in metrics:
        criterion = TARGETS[m][1]
        scored[f"{m}_stars"] = cals[m].stars(scored[m].tolist())
        rows = scored.groupby("system").agg(human=(criterion, "mean"), stars=(f"{m}_stars", "mean"), n=(m, "size"))
        rows["error"] = rows["stars"] - rows["human"]
        print(f"\n{m} -> {criterion} (calibration fitted on prompts {ids[0]}..{ids[fitted - 1]}; held out: {len(held)} prompts)")
        print(rows.round(2).to_string())
        print(f"system MAE {rows['error'].abs().mean():.3f} (goal <= 0.4); story MAE "
              f"{(scored[f'{m}_stars'] - scored[criterion]).abs().mean():.3f}; "
              f"Human {rows.loc['Human', 'stars']:.2f} stars (people {rows.loc['Human', 'human']:.2f})"
              if "Human" in rows.index else "")
    print(f"load after: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
