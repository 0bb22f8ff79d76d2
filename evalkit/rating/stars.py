"""Stars from numbers: linear between anchors for quality, log-linear between cut points for
speed, memory and training time; shown stars rounded to half steps."""

from __future__ import annotations

import math
from collections.abc import Sequence


def round_half(score: float) -> float:
    """Half steps; an exact quarter rounds up so equal inputs always land on the same star."""
    return math.floor(score * 2 + 0.5) / 2


def anchor_problem(one_star: float | None, five_star: float | None, direction: str | None = None) -> str | None:
    """Why a pair of anchors cannot rate, or None when it can."""
    if one_star is None or five_star is None or not (math.isfinite(one_star) and math.isfinite(five_star)):
        return "no anchor"
    if math.isclose(one_star, five_star, rel_tol=1e-9, abs_tol=1e-12):
        return "the anchors do not separate reference from degenerate text"
    if direction == "higher" and five_star < one_star or direction == "lower" and five_star > one_star:
        return "the metric scores degenerate text better than the reference stories"
    return None


def anchor_score(value: float | None, one_star: float | None, five_star: float | None) -> float | None:
    """Unrounded stars in [1, 5]: linear between the anchors (either direction), clipped."""
    if value is None or not math.isfinite(value) or anchor_problem(one_star, five_star):
        return None
    s = 1.0 + 4.0 * (value - one_star) / (five_star - one_star)  # type: ignore[operator]
    return min(5.0, max(1.0, s))


def cut_score(value: float | None, cuts: Sequence[float]) -> float | None:
    """Unrounded stars in [1, 5] for a lower-is-better measurement: linear in log(value) between
    the cut points (the values earning 5, 4, 3, 2, 1 stars)."""
    if value is None or not math.isfinite(value):
        return None
    if value <= cuts[0]:
        return 5.0
    if value >= cuts[-1]:
        return 1.0
    for i in range(len(cuts) - 1):
        lo, hi = cuts[i], cuts[i + 1]
        if value <= hi:
            return 5.0 - i - (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return 1.0  # unreachable: value < cuts[-1]


def stars(score: float | None) -> float | None:
    return None if score is None else round_half(score)
