"""A quality row's anchors, from the stored anchors.json (records.AnchorScores): its 1- and 5-star levels
(``anchor_entries``) and whether the suite's references beat their degenerate copies (``reference_check``).
Numbers only: the scoring stage scored the anchors."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.records import AnchorScores
from evalkit.significance import clustered_test
from evalkit.stats import RESAMPLES, SEED


def reference_check(record: AnchorScores, metric: str, kinds: Sequence[str], direction: str, confidence: float = 0.95,
                    resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, Any] | None:
    """Do the references beat their degenerate copies on ``metric``? A paired cluster-bootstrap test over
    the items (an item's degenerate level is the mean of its kinds' values). None when the record has
    no per-item values (anchors stored before the check existed)."""
    per = record.per_item
    if not per or metric not in per.get("reference", {}):
        return None
    ref = per["reference"][metric]
    degen: dict[str, list[float]] = {}
    for k in kinds:
        for item, v in (per.get(k, {}).get(metric) or {}).items():
            if v is not None and math.isfinite(v):
                degen.setdefault(item, []).append(v)
    xa = {i: [v] for i, v in ref.items() if v is not None and math.isfinite(v)}
    xb = {i: [math.fsum(vs) / len(vs)] for i, vs in degen.items()}
    t = clustered_test("reference", "degenerate", xa, xb, direction if direction in ("higher", "lower") else "higher",
                       confidence=confidence, resamples=resamples, seed=seed)
    if t is None:
        n = len(set(xa) & set(xb))
        return {"informative": False, "diff": None, "ci_low": None, "ci_high": None, "p": None, "n": n,
                "reason": f"not informative on this suite: only {n} item(s) have both a reference and a degenerate value"}
    ok = t.significant and t.better == "reference"
    margin = f"references − degenerate copies = {t.diff:+.3g} [{t.ci_low:+.3g}, {t.ci_high:+.3g}] over {t.n_items} items"
    if ok:
        reason = f"references beat their degenerate copies ({margin}, p={t.p:.2g})"
    elif t.significant:
        reason = f"not informative on this suite: degenerate copies score better than the references ({margin})"
    else:
        reason = f"not informative on this suite: references do not beat their degenerate copies ({margin}, p={t.p:.2g})"
    return {"informative": ok, "diff": t.diff, "ci_low": t.ci_low, "ci_high": t.ci_high, "p": t.p, "n": t.n_items,
            "reason": reason}


def anchor_entries(record: AnchorScores, kinds_by_metric: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
    """rating.json's anchors from a stored AnchorScores: five_star = the references' mean; one_star = the
    mean of the listed kinds' means. A metric the references have no value for is left out."""
    anchors: dict[str, dict[str, Any]] = {}
    for metric, kinds in kinds_by_metric.items():
        ref = record.references.get(metric)
        if ref is None or ref.mean is None:
            continue  # no scorer produced this metric on the references
        by_kind = {k: record.degenerate[k].get(metric) for k in kinds if k in record.degenerate}
        by_kind = {k: v for k, v in by_kind.items() if v is not None}
        entry: dict[str, Any] = {"one_star": math.fsum(by_kind.values()) / len(by_kind) if by_kind else None,
                                 "five_star": ref.mean, "n": ref.n, "kinds": sorted(by_kind), "degenerate": by_kind}
        if not by_kind:
            entry["note"] = f"none of the degenerate kinds {', '.join(kinds)} could be built from this suite"
        anchors[metric] = entry
    return anchors
