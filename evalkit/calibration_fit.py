"""Fit calibrations from a ratings CSV (HANNA's format): score the stories with evalkit's scorers
(cached per story), then fit each metric to the human criterion it should predict.

    .venv/bin/python scripts/fit_calibration.py ../shared/validation/hanna_dev.csv

writes evalkit/calibrations/<dataset>-<metric>.json. The future ``evalkit validate --calibrate``
calls :func:`calibrate_ratings_file`.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.calibration import SHIPPED_DIR, fit_calibration, save_calibration
from evalkit.errors import EvalkitError
from evalkit.score_cache import DEFAULT_SUBDIR
from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scoring import cached_score_stories, load_scorers, metric_table
from evalkit.suites import default_suite_name, load_suite

# metric -> (scorer that produces it, the human criterion it is calibrated to)
TARGETS: dict[str, tuple[str, str]] = {
    "coherence": ("coherence", "Coherence"),
    "creativity": ("creativity", "Surprise"),
    "mtld": ("vocabulary", "Complexity"),
}
COLUMNS = {"story": "story", "prompt": "prompt", "system": "model", "group": "prompt_id"}


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_ratings(path: str | Path, criteria: Sequence[str], columns: Mapping[str, str] = COLUMNS) -> Any:
    """The ratings as a pandas DataFrame with columns story, prompt, system, group and the criteria.

    One line of EvalkitError for a missing file or column, or a non-numeric rating (with its row)."""
    import pandas as pd

    try:
        raw = pd.read_csv(path)
    except FileNotFoundError:
        raise EvalkitError(f"{path}: no such ratings file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise EvalkitError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None
    need = [columns["story"], columns["system"], columns["group"], *criteria]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise EvalkitError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(map(str, raw.columns))})")
    df = pd.DataFrame({k: raw[columns[k]] for k in ("story", "system", "group")})
    df["prompt"] = raw[columns["prompt"]].fillna("").astype(str) if columns["prompt"] in raw.columns else ""
    df["story"] = df["story"].fillna("").astype(str)
    df["system"] = df["system"].astype(str)
    df["group"] = df["group"].astype(str)
    for c in criteria:
        num = pd.to_numeric(raw[c], errors="coerce")
        bad = raw.index[num.isna() & raw[c].notna()]
        if len(bad):
            rows = ", ".join(str(i + 2) for i in bad[:5])  # +2: the header is line 1
            raise EvalkitError(f"{path}: non-numeric {c} rating on line(s) {rows}")
        df[c] = num
    return df


def score_ratings(df: Any, metrics: Sequence[str], cache_dir: str | Path | None = None, suite: Any = "default",
                  log: Any = None) -> Any:
    """df with one column per metric added, scored as ``evalkit score`` would (the default suite for
    novelty, each system's stories in one call), through the per-story cache."""
    if suite == "default":
        suite = load_suite(default_suite_name())
    names = sorted({TARGETS[m][0] if m in TARGETS else m for m in metrics})
    scorers = load_scorers(names)
    context = ScoringContext(suite=suite)
    groups: dict[str, list[int]] = {}
    for i, system in enumerate(df["system"]):
        groups.setdefault(system, []).append(i)
    stories = [StoryInput(text=t, id=str(i), prompt=p) for i, (t, p) in enumerate(zip(df["story"], df["prompt"]))]
    values: list[dict[str, Any]] = [{} for _ in stories]
    for system, idx in groups.items():
        if log:
            log(f"scoring {system}: {len(idx)} stories")
        for i, r in zip(idx, cached_score_stories([stories[i] for i in idx], scorers, context,
                                                  Path(cache_dir) if cache_dir else Path("results") / DEFAULT_SUBDIR)):
            values[i] = r.values
    out = df.copy()
    for m in metrics:
        out[m] = [v.get(m) for v in values]
        out[m] = out[m].astype(float)
    return out


HANNA_NOTE = ("HANNA (Chhun et al. 2022): adult short fiction from WritingPrompts, 10 generation systems and "
              "the human story per prompt, each rated 1-5 by three raters (their mean is used)")


def calibrate_frame(df: Any, data_name: str, data_sha256: str, targets: Mapping[str, tuple[str, str]] = TARGETS,
                    note: str = "", fingerprints: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One Calibration per metric in ``targets`` from a scored ratings frame (see score_ratings)."""
    scorers = load_scorers(sorted({s for s, _ in targets.values()}))
    table = metric_table(scorers)
    out = {}
    for metric, (_, criterion) in targets.items():
        out[metric] = fit_calibration(
            metric, table[metric].direction, df[metric].tolist(), df[criterion].tolist(), df["group"].tolist(),
            df["system"].tolist(), data_name, criterion, data_sha256=data_sha256, note=note,
            scorer_fingerprint=(fingerprints or {}).get(metric, ""))
    return out


def first_groups(df: Any, k: int) -> Any:
    """The rows of the first ``k`` prompt groups (numeric order when the ids are numbers)."""
    ids = sorted(set(df["group"]), key=lambda g: (0, int(g), "") if str(g).lstrip("-").isdigit() else (1, 0, str(g)))
    return df[df["group"].isin(ids[:k])]


def calibrate_ratings_file(path: str | Path, out_dir: str | Path | None = None, prefix: str | None = None,
                           targets: Mapping[str, tuple[str, str]] = TARGETS, cache_dir: str | Path | None = None,
                           note: str | None = None, log: Any = None, prompts: int | None = None) -> dict[str, Any]:
    """Score a ratings CSV (cached), fit every target and write ``<prefix>-<metric>.json`` into out_dir.
    ``prompts``: use only the first that many prompt groups (a quicker, partial fit; the note says so)."""
    path = Path(path)
    df = read_ratings(path, sorted({c for _, c in targets.values()}))
    n_groups = df["group"].nunique()
    if prompts is not None and prompts < n_groups:
        df = first_groups(df, prompts)
    scored = score_ratings(df, list(targets), cache_dir=cache_dir, log=log)
    fps = {}
    for metric, (scorer_name, _) in targets.items():
        fps[metric] = load_scorers([scorer_name])[0].cache_identity(ScoringContext())
    is_hanna = path.name.startswith("hanna")
    text = note if note is not None else (HANNA_NOTE if is_hanna else "")
    if df["group"].nunique() < n_groups:
        text = (text + "; " if text else "") + f"partial fit: the first {df['group'].nunique()} of {n_groups} prompts"
    cals = calibrate_frame(scored, path.name, file_sha256(path), targets, text, fps)
    prefix = prefix or ("hanna" if is_hanna else path.stem)
    out_dir = Path(out_dir) if out_dir else SHIPPED_DIR
    for metric, cal in cals.items():
        save_calibration(cal, out_dir / f"{prefix}-{metric}.json")
    return cals


def summary_lines(cals: Mapping[str, Any]) -> list[str]:
    """The cross-validated figures, one block per calibration."""
    lines = []
    for metric, cal in cals.items():
        cv = cal.cv
        lines.append(f"{cal.data.criterion} <- {metric} ({cal.direction} is better): {cal.data.rows} stories, "
                     f"{cal.data.groups} prompts, {len(cal.x)} breakpoints; cross-validated by prompt ({cv.folds} folds): "
                     f"MAE {cv.mae:.3f}  RMSE {cv.rmse:.3f}  system MAE {cv.system_mae:.3f}")
        for alt in cal.alternatives:
            lines.append(f"    {alt.method:<12} MAE {alt.mae:.3f}  RMSE {alt.rmse:.3f}  system MAE {alt.system_mae:.3f}")
        for r in sorted(cv.systems, key=lambda r: r.human):
            lines.append(f"    {r.system:<16} people {r.human:.2f}  calibrated stars {r.predicted:.2f}  ({r.error:+.2f})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fit metric -> human-rating calibrations from a ratings CSV.")
    ap.add_argument("ratings", nargs="?", default=str(Path(__file__).resolve().parents[1].parent / "shared" /
                                                        "validation" / "hanna_dev.csv"))
    ap.add_argument("--out-dir", default=str(SHIPPED_DIR), help="where the calibration JSON files go")
    ap.add_argument("--prefix", help="file name prefix (default: hanna for HANNA files, else the CSV's stem)")
    ap.add_argument("--cache-dir", help="per-story score cache (default results/.cache/scores)")
    ap.add_argument("--prompts", type=int, help="fit on the first N prompt groups only (quicker, partial)")
    args = ap.parse_args(argv)
    t = time.time()
    try:
        cals = calibrate_ratings_file(args.ratings, args.out_dir, args.prefix, cache_dir=args.cache_dir,
                                      prompts=args.prompts, log=lambda s: print(f"[{time.time() - t:.0f}s] {s}", file=sys.stderr, flush=True))
    except EvalkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(cals)))
    return 0
