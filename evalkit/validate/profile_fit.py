"""Fit a reader's calibration profile from rated stories (``evalkit validate RATINGS.csv --fit``).

The reader's norms (mean and sd of its LM parts over the machine stories: no ratings used) and the
isotonic coherence -> rating calibration (every story, the human-written ones too, as the shipped
calibrations) are what a profile stores, fitted on the whole file. Its error is cross-validated by
prompt: in each fold both the norms and the calibration are fitted on the other folds' prompts and the
held-out stories get their stars from them; the MAE of those stars against people's ratings, and their
Kendall tau (pooled over machine stories, and between machine systems), are the profile's headline.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np

from evalkit._version import __version__
from evalkit.calibration import FOLDS, _predictor, check_ratings, cv_error, fit_calibration, grouped_folds
from evalkit.errors import EvalkitError
from evalkit.profiles import METRIC, Profile, ProfileCV, ProfileData, ProfileReader
from evalkit.records import utcnow
from evalkit.scorers.coherence import LM_PARTS, PARTS, combine
from evalkit.validate.ratings import Ratings
from evalkit.validate.stats import agreement


def part_norms(scores: Any, rows: Any) -> dict[str, tuple[float, float]]:
    """(mean, sd) of each LM part over ``rows`` (a boolean mask of ``scores``), as validate standardizes."""
    out = {}
    for part in LM_PARTS:
        x = scores[part].to_numpy(dtype=float)[rows]
        x = x[np.isfinite(x)]
        if x.size < 2 or not np.std(x) > 0:
            raise EvalkitError(f"{part}: fewer than 2 distinct readings to measure the reader's norms on")
        out[part] = (float(np.mean(x)), float(np.std(x)))
    return out


def coherence_with(scores: Any, norms: dict[str, tuple[float, float]]) -> Any:
    """Coherence of every story with these norms (combine, as the scorer derives it; NaN: not scorable)."""
    cols = {p: scores[p].to_numpy(dtype=float) if p in scores else np.full(len(scores), np.nan) for p in PARTS}
    out = np.full(len(scores), np.nan)
    for i in range(len(scores)):
        parts = {p: (None if math.isnan(v[i]) else float(v[i])) for p, v in cols.items()}
        value = combine(parts, norms)
        out[i] = np.nan if value is None else value
    return out


def fit_profile(ratings: Ratings, scores: Any, reader: ProfileReader, name: str, criterion: str = "Coherence",
                folds: int = FOLDS) -> Profile:
    """A profile for ``reader`` from the stories of ``ratings`` it scored (``scores``: validate's per-story
    frame with the coherence parts)."""
    frame = ratings.frame
    if criterion not in frame:
        raise EvalkitError(f"--fit: no rating column {criterion!r} (the file has {', '.join(ratings.criteria)})")
    system, group = frame["system"].to_numpy().astype(str), frame["group"].to_numpy().astype(str)
    machine = system != (ratings.human_system or "\0")
    where = f"{Path(ratings.source).name} ({criterion} <- {METRIC} read by {reader.name})"
    norms = part_norms(scores, machine)
    x_all = coherence_with(scores, norms)
    y_all = frame[criterion].to_numpy(dtype=float)
    x, y, g, s, _ = check_ratings(list(np.where(np.isfinite(x_all), x_all, None)), list(y_all), list(group),
                                  list(system), where)  # >= 2 systems, >= 3 prompts, enough scored stories
    keep = np.isfinite(x_all) & np.isfinite(y_all)
    sub, mach = scores[keep].reset_index(drop=True), machine[keep]
    pred = np.empty(len(y))
    splits = grouped_folds(g, folds)
    for tr, te in splits:  # norms and calibration fitted on the training prompts only
        train = np.zeros(len(y), dtype=bool)
        train[tr] = True
        fold_x = coherence_with(sub, part_norms(sub, train & mach))
        pred[te] = _predictor("isotonic", fold_x[tr], y[tr], True)(fold_x[te])
    err = cv_error(pred, y, s, "isotonic", len(splits))
    tau = agreement(pred[mach], y[mach], s[mach], g[mach], boot=10)
    sha = hashlib.sha256(Path(ratings.source).read_bytes()).hexdigest()
    cal = fit_calibration(METRIC, "higher", list(x), list(y), list(g), list(s), Path(ratings.source).name, criterion,
                          data_sha256=sha, folds=folds, note=f"coherence read by {reader.name}, norms of profile {name}")
    cal = cal.model_copy(update={"cv": err})  # the headline: norms and calibration both out of fold
    data = ProfileData(name=Path(ratings.source).name, sha256=sha, stories=len(y), machine_stories=int(machine.sum()),
                       prompts=len(set(g.tolist())), systems=sorted(set(s.tolist())), human_system=ratings.human_system,
                       criterion=criterion)
    cv = ProfileCV(folds=len(splits), mae=err.mae, rmse=err.rmse, system_mae=err.system_mae,
                   pooled_tau=tau.pooled_tau.value, system_tau=tau.system_tau.value)
    return Profile(name=name, reader=reader, data=data, norms=norms, calibration=cal, cv=cv,
                   evalkit_version=__version__, created=utcnow())
