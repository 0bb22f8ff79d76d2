"""Calibrated stars: a quality metric mapped onto the 1-5 rating people give.

A calibration is data: the breakpoints (x, y) of a monotone (isotonic) fit of people's ratings on the
metric, the ratings it was fitted on, and its cross-validated error (folds grouped by prompt, so the
error is measured on prompts the fit never saw). It is stored as JSON (evalkit/calibrations/*.json)
and applied with ``numpy.interp``: no scikit-learn at apply time. Fitting lives in ``fit_calibration``
(scikit-learn, imported inside).

"3 stars Story Coherence" then means "stories with this score get about 3 of 5 from readers".
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import EvalkitError
from evalkit.records import stable_hash, utcnow, write_json

CALIBRATION_SCHEMA = "evalkit.calibration/1"
SHIPPED_DIR = Path(__file__).with_name("calibrations")
MIN_RATINGS = 30
MIN_GROUPS = 3
MIN_SYSTEMS = 2
FOLDS = 5
SCALE = (1.0, 5.0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), populate_by_name=True)


class CalibrationData(_Strict):
    """The human ratings a calibration was fitted on."""

    name: str = Field(description="file name of the ratings (e.g. hanna_dev.csv)")
    sha256: str = Field(description="sha256 of the ratings file, or of the arrays when fitted from memory")
    rows: int = Field(description="rated stories used (those the metric could score)")
    dropped: int = Field(0, description="rated stories left out because the metric could not score them")
    groups: int = Field(description="distinct prompts (the cross-validation groups)")
    systems: list[str] = Field(description="the systems whose stories were rated")
    criterion: str = Field(description="the human criterion the metric is mapped to (e.g. Coherence)")
    note: str = Field("", description="what the ratings are, for the report (e.g. adult short fiction)")


class SystemError(_Strict):
    """One system's mean predicted stars against its mean human rating, on held-out prompts."""

    system: str = Field(description="system label in the ratings file")
    n: int = Field(description="stories of this system")
    human: float = Field(description="mean human rating")
    predicted: float = Field(description="mean cross-validated calibrated stars")
    error: float = Field(description="predicted - human")


class CVError(_Strict):
    """Cross-validated error of a fit: every story predicted by a fit that never saw its prompt."""

    method: str = Field(description="isotonic | linear | multinomial | constant")
    folds: int = Field(description="GroupKFold folds, grouped by prompt")
    mae: float = Field(description="mean |predicted - human rating| per story")
    rmse: float = Field(description="root mean squared error per story")
    system_mae: float = Field(description="mean over systems of |mean predicted - mean human rating|")
    systems: list[SystemError] = Field(default_factory=list, description="per-system means (the fitted method only)")


class Calibration(_Strict):
    """A metric -> stars mapping, with where it came from and how well it predicts people."""

    schema_: str = Field(CALIBRATION_SCHEMA, alias="schema", description="record schema tag")
    metric: str = Field(description="the evalkit metric (e.g. coherence)")
    direction: Literal["higher", "lower"] = Field(description="higher: the fit is increasing; lower: decreasing")
    method: Literal["isotonic"] = Field("isotonic", description="how x maps to y between breakpoints: linear interpolation")
    x: list[float] = Field(description="metric breakpoints, increasing")
    y: list[float] = Field(description="stars (1-5) at each breakpoint; clipped to the ends outside")
    data: CalibrationData = Field(description="the ratings it was fitted on")
    cv: CVError = Field(description="the headline figure: cross-validated error of the isotonic fit")
    alternatives: list[CVError] = Field(default_factory=list, description="the same protocol for other fits, for comparison")
    scorer_fingerprint: str = Field("", description="fingerprint of the scorer source the metric values came from")
    created: str = Field("", description="UTC time of the fit")

    def stars(self, values: Sequence[float | None]) -> list[float | None]:
        return apply_calibration(self, values)


def apply_calibration(cal: Calibration, values: Sequence[float | None]) -> list[float | None]:
    """Unrounded stars for each value (None stays None): linear between breakpoints, flat outside."""
    out: list[float | None] = [None] * len(values)
    idx = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if idx:
        got = np.interp(np.array([values[i] for i in idx], dtype=float), cal.x, cal.y)
        for i, s in zip(idx, got):
            out[i] = float(s)
    return out


def save_calibration(cal: Calibration, path: str | Path) -> None:
    write_json(path, cal)


def load_calibration(name_or_path: str | Path) -> Calibration:
    """A calibration file, or a shipped one by name (``hanna-coherence``)."""
    p = Path(name_or_path)
    if not p.is_file():
        p = SHIPPED_DIR / f"{name_or_path}.json"
    try:
        cal = Calibration.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise EvalkitError(f"no calibration {str(name_or_path)!r} (shipped: {', '.join(shipped_calibrations())})") from None
    except (ValueError, ValidationError) as e:
        first = str(e).splitlines()[0]
        raise EvalkitError(f"{p}: not a calibration ({first})") from None
    _check_breakpoints(cal, str(p))
    return cal


def shipped_calibrations() -> list[str]:
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.json"))


def _check_breakpoints(cal: Calibration, where: str) -> None:
    xs, ys = cal.x, cal.y
    ok = (len(xs) == len(ys) >= 1 and all(math.isfinite(v) for v in xs + ys)
          and all(b > a for a, b in zip(xs, xs[1:])) and all(SCALE[0] <= v <= SCALE[1] for v in ys))
    if not ok:
        raise EvalkitError(f"{where}: calibration breakpoints must be increasing x with y in 1..5, as many x as y")


# ---------------------------------------------------------------- fitting

def check_ratings(metric: Sequence[Any], ratings: Sequence[Any], groups: Sequence[Any], systems: Sequence[Any],
                  what: str = "ratings") -> tuple[Any, Any, Any, Any, int]:
    """The usable rows as numpy arrays (metric, rating, group, system) and how many were dropped for a
    missing metric value. One-line EvalkitError for anything a fit cannot use."""
    n = len(ratings)
    if not (len(metric) == len(groups) == len(systems) == n):
        raise EvalkitError(f"{what}: metric, ratings, groups and systems differ in length")
    try:
        r = np.array([float(v) for v in ratings], dtype=float)
    except (TypeError, ValueError):
        bad = next(i for i, v in enumerate(ratings) if not _is_number(v))
        raise EvalkitError(f"{what}: rating {ratings[bad]!r} (row {bad + 1}) is not a number") from None
    if not np.all(np.isfinite(r)):
        raise EvalkitError(f"{what}: {int((~np.isfinite(r)).sum())} rating(s) missing or not finite")
    bad_m = [i for i, v in enumerate(metric) if v is not None and not _is_number(v)]
    if bad_m:
        raise EvalkitError(f"{what}: metric value {metric[bad_m[0]]!r} (row {bad_m[0] + 1}) is not a number")
    m = np.array([float(v) if v is not None else np.nan for v in metric], dtype=float)
    keep = np.isfinite(m)
    g = np.array([str(v) for v in groups])[keep]
    s = np.array([str(v) for v in systems])[keep]
    if keep.sum() < MIN_RATINGS:
        raise EvalkitError(f"{what}: only {int(keep.sum())} rated stories with a metric value (need {MIN_RATINGS})")
    if len(set(g)) < MIN_GROUPS:
        raise EvalkitError(f"{what}: only {len(set(g))} prompt group(s) (need {MIN_GROUPS} for grouped cross-validation)")
    if len(set(s)) < MIN_SYSTEMS:
        raise EvalkitError(f"{what}: ratings of one system only ({s[0]}): a calibration needs {MIN_SYSTEMS}+ systems")
    return m[keep], r[keep], g, s, int((~keep).sum())


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return not isinstance(v, bool)


def grouped_folds(groups: Sequence[Any], folds: int = FOLDS) -> list[tuple[Any, Any]]:
    """(train index, test index) per fold; no group on both sides (sklearn GroupKFold)."""
    from sklearn.model_selection import GroupKFold

    g = np.asarray(groups)
    k = min(folds, len(set(g.tolist())))
    return list(GroupKFold(n_splits=k).split(np.zeros(len(g)), groups=g))


def _fit_isotonic(x: Any, y: Any, increasing: bool) -> tuple[list[float], list[float]]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(increasing=increasing, y_min=SCALE[0], y_max=SCALE[1], out_of_bounds="clip").fit(x, y)
    return [float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]


def _predictor(method: str, x: Any, y: Any, increasing: bool):
    """A function metric -> stars, fitted on (x, y)."""
    if method == "isotonic":
        bx, by = _fit_isotonic(x, y, increasing)
        return lambda v: np.interp(v, bx, by)
    if method == "constant":
        mean = float(np.mean(y))
        return lambda v: np.full(len(v), mean)
    if method == "linear":
        slope, icpt = np.polyfit(x, y, 1) if np.ptp(x) > 0 else (0.0, float(np.mean(y)))
        return lambda v: np.clip(icpt + slope * np.asarray(v), *SCALE)
    if method == "multinomial":  # rounded ratings as classes; the prediction is the expected rating
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        cls = np.clip(np.rint(y), *SCALE).astype(int)
        if len(set(cls.tolist())) < 2:
            return _predictor("constant", x, y, increasing)
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(np.asarray(x)[:, None], cls)
        labels = clf.classes_.astype(float)
        return lambda v: clf.predict_proba(np.asarray(v, dtype=float)[:, None]) @ labels
    raise ValueError(method)


def cross_validate(x: Any, y: Any, groups: Any, systems: Any, method: str, increasing: bool,
                   folds: int = FOLDS) -> tuple[CVError, Any]:
    """Out-of-fold predictions with GroupKFold by prompt, and their error."""
    pred = np.empty(len(y))
    splits = grouped_folds(groups, folds)
    for tr, te in splits:
        pred[te] = _predictor(method, x[tr], y[tr], increasing)(x[te])
    return cv_error(pred, y, systems, method, len(splits)), pred


def cv_error(pred: Any, y: Any, systems: Any, method: str, folds: int) -> CVError:
    """The error of out-of-fold predictions ``pred`` of ratings ``y``: per story and per system."""
    sys_rows = []
    for s in sorted(set(systems.tolist())):
        sel = systems == s
        h, p = float(y[sel].mean()), float(pred[sel].mean())
        sys_rows.append(SystemError(system=s, n=int(sel.sum()), human=h, predicted=p, error=p - h))
    return CVError(method=method, folds=folds, mae=float(np.mean(np.abs(pred - y))),
                   rmse=float(np.sqrt(np.mean((pred - y) ** 2))),
                   system_mae=float(np.mean([abs(r.error) for r in sys_rows])), systems=sys_rows)


def fit_calibration(metric_name: str, direction: str, metric: Sequence[Any], ratings: Sequence[Any],
                    groups: Sequence[Any], systems: Sequence[Any], data_name: str, criterion: str,
                    data_sha256: str | None = None, note: str = "", folds: int = FOLDS,
                    alternatives: Sequence[str] = ("linear", "multinomial", "constant"),
                    scorer_fingerprint: str = "") -> Calibration:
    """Isotonic fit of ``ratings`` on ``metric`` (increasing when higher is better), shipped fitted on
    all rows; its error is the cross-validated one (GroupKFold by ``groups``)."""
    if direction not in ("higher", "lower"):
        raise EvalkitError(f"{metric_name}: a calibration needs a metric whose direction is higher or lower, not {direction}")
    x, y, g, s, dropped = check_ratings(metric, ratings, groups, systems, f"{data_name} ({criterion} <- {metric_name})")
    increasing = direction == "higher"
    cv, _ = cross_validate(x, y, g, s, "isotonic", increasing, folds)
    alts = []
    for method in alternatives:
        alt, _ = cross_validate(x, y, g, s, method, increasing, folds)
        alts.append(alt.model_copy(update={"systems": []}))
    bx, by = _fit_isotonic(x, y, increasing)
    sha = data_sha256 or stable_hash([x.tolist(), y.tolist(), g.tolist(), s.tolist()], 64)
    data = CalibrationData(name=data_name, sha256=sha, rows=len(y), dropped=dropped, groups=len(set(g.tolist())),
                           systems=sorted(set(s.tolist())), criterion=criterion, note=note)
    return Calibration(metric=metric_name, direction=direction, x=bx, y=by, data=data, cv=cv, alternatives=alts,
                       scorer_fingerprint=scorer_fingerprint, created=utcnow())


# ---------------------------------------------------------------- stars per story

GENRE_METRIC = "genre_adherence"
GENRE_SOURCE = "genre probability"  # the star source's name in rating.json (stars_from, calibrations)
GENRE_FULL = 0.9  # the calibrated probability that earns 5 stars


def genre_stars(p: float | None, k: int) -> float | None:
    """1 + 4·clip((p − 1/K) / (0.9 − 1/K), 0, 1): chance (1/K) is 1 star, 0.9 is 5 stars."""
    if p is None or not math.isfinite(p) or k < 2:
        return None
    chance = 1.0 / k
    return 1.0 + 4.0 * min(1.0, max(0.0, (p - chance) / (GENRE_FULL - chance)))


def genre_formula(k: int | str = "K") -> str:
    """genre_stars in words, for k genres (or the letter K)."""
    return f"1 + 4·clip((p − 1/{k}) / ({GENRE_FULL} − 1/{k}), 0, 1)"


class StarMap:
    """How one metric becomes stars per story: a fitted calibration, or the genre formula."""

    def __init__(self, metric: str, source: str, apply: Any, about: dict[str, Any]):
        self.metric, self.source, self._apply, self.about = metric, source, apply, about

    def stars(self, values: Sequence[float | None]) -> list[float | None]:
        return self._apply(values)


def suite_calibrations(suite: Any) -> dict[str, Path]:
    """metric -> calibration file a suite ships in its own calibrations/ folder."""
    folder = Path(getattr(suite, "path", "") or "") / "calibrations" if suite is not None else None
    if folder is None or not folder.is_dir():
        return {}
    out = {}
    for p in sorted(folder.glob("*.json")):
        out.setdefault(load_calibration(p).metric, p)
    return out


def calibration_about(name: str, cal: Calibration) -> dict[str, Any]:
    """What the report says about a calibration (rating.json ``calibrations``)."""
    about = {"name": name, "criterion": cal.data.criterion, "data": cal.data.name, "rows": cal.data.rows,
             "groups": cal.data.groups, "systems": len(cal.data.systems), "note": cal.data.note,
             "cv_mae": cal.cv.mae, "cv_system_mae": cal.cv.system_mae, "folds": cal.cv.folds}
    if cal.cv.systems:  # the ceiling: what the writers people rated best get from it (cross-validated)
        top = max(cal.cv.systems, key=lambda r: r.human)
        about.update(top_system=top.system, top_people=top.human, top_stars=top.predicted)
    return about


def star_maps(metrics: Sequence[str], suite: Any = None, genre: tuple[bool, int, str] | None = None) -> dict[str, StarMap]:
    """metric -> StarMap for every metric with a calibration: the suite's own (calibrations/*.json in the
    suite folder) before a shipped one (evalkit/calibrations/<data>-<metric>.json); genre_adherence by
    the genre formula when ``genre`` = (calibrated, number of genres, how) says its probabilities are
    calibrated."""
    own = suite_calibrations(suite)
    shipped: dict[str, str] = {}
    for name in shipped_calibrations():
        shipped.setdefault(name.split("-", 1)[-1], name)
    out: dict[str, StarMap] = {}
    for m in metrics:
        if m == GENRE_METRIC and genre is not None:
            calibrated, k, how = genre
            if calibrated and k >= 2:
                out[m] = StarMap(m, GENRE_SOURCE, lambda vs, k=k: [genre_stars(v, k) for v in vs],
                                 {"name": GENRE_SOURCE, "genres": k, "note": how, "formula": genre_formula(k)})
            continue
        where = own.get(m) or shipped.get(m)
        if where is None:
            continue
        cal = load_calibration(where)
        name = f"{getattr(suite, 'name', 'suite')}:{Path(where).stem}" if m in own else str(where)
        out[m] = StarMap(m, f"calibration {name}", cal.stars, calibration_about(name, cal))
    return out


def add_story_stars(rows: Sequence[dict[str, float | None]], maps: dict[str, StarMap]) -> None:
    """Add ``<metric>_stars`` (unrounded, 1-5) to each story's values, in place."""
    for m, sm in maps.items():
        got = sm.stars([r.get(m) for r in rows])
        for r, s in zip(rows, got):
            r[f"{m}_stars"] = s


def star_sources(metrics: Sequence[str], suite: Any = None) -> dict[str, dict[str, Any]]:
    """metric -> what its per-story stars come from (rating.json ``calibrations``, for the report): the
    calibration files star_maps would use; the genre formula, which needs no file."""
    out = {m: sm.about for m, sm in star_maps(metrics, suite).items()}
    if GENRE_METRIC in metrics:
        out[GENRE_METRIC] = {"name": GENRE_SOURCE, "note": "the genre scorer's calibrated probability",
                             "formula": f"{genre_formula()}, K = number of genres"}
    return out
