"""The judge's consistency report: is it stable, unbiased by position, in line with the automatic
scores, and not grading itself?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from evalkit.judge.pairwise import PreferenceRow

# The star-table row each rubric measures too: in a run, its counterpart is the metric the suite's
# [rating] puts on that row (AUTOMATIC_COUNTERPART holds the defaults, and age's, which has no row).
JUDGE_ROWS = {"judge_coherence": "Story Coherence", "judge_creativity": "Creativity", "judge_genre": "Genre Adherence"}
# The automatic metric measuring the same thing as each rubric.
AUTOMATIC_COUNTERPART = {
    "judge_coherence": "coherence",
    "judge_creativity": "creativity",
    "judge_genre": "genre_adherence",
    "judge_age": "reading_band_fit",
}


class MetricAgreement(BaseModel):
    """Kendall τ between a judge rubric and the automatic metric of the same row, over stories."""

    judge_metric: str = Field(description="judge rubric metric, e.g. judge_coherence")
    automatic_metric: str = Field(description="the automatic metric for the same row")
    n: int = Field(description="stories with both numbers")
    kendall_tau: float | None = Field(description="Kendall τ-b; None under 3 stories or a constant column")


class ConsistencyReport(BaseModel):
    """How far to trust the judge in this run."""

    judge: str = Field(description="judge model label")
    order_agreement: float | None = Field(description="pairwise: share of items where both orders agree")
    position_bias: float | None = Field(description="pairwise: share of choices for the first-shown story - 0.5")
    seed_agreement: float | None = Field(None, description="sampled judges: share of ratings equal across two seeds")
    agreement: list[MetricAgreement] = Field(default_factory=list, description="judge vs automatic, per row")
    missing: int = Field(0, description="judge answers missing: story ratings left null, plus pairwise items "
                                        "with an order unanswered")
    warnings: list[str] = Field(default_factory=list, description="self-preference and other cautions")


def metric_agreement(scores: Sequence[Mapping[str, float | None]],
                     counterparts: Mapping[str, str] | None = None) -> list[MetricAgreement]:
    from scipy.stats import kendalltau

    out = []
    for jm, am in (counterparts or AUTOMATIC_COUNTERPART).items():
        pairs = [(s.get(jm), s.get(am)) for s in scores]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        tau = None
        if len(pairs) >= 3 and len({a for a, _ in pairs}) > 1 and len({b for _, b in pairs}) > 1:
            tau = float(kendalltau([a for a, _ in pairs], [b for _, b in pairs]).statistic)
        if pairs:
            out.append(MetricAgreement(judge_metric=jm, automatic_metric=am, n=len(pairs), kendall_tau=tau))
    return out


def consistency_report(judge: Any, scores: Sequence[Mapping[str, float | None]] = (),
                       pairs: Sequence[PreferenceRow] = (), candidates: Mapping[str, Any] = (),
                       seed_agreement: float | None = None, missing: int | None = None,
                       counterparts: Mapping[str, str] | None = None) -> ConsistencyReport:
    """``judge``: a Judge; ``scores``: per-story score dicts of the run; ``pairs``: pairwise rows;
    ``candidates``: label -> (fingerprint, ModelSpec) of the models compared; ``missing``: questions
    left unanswered (default: those this judge object failed to answer); ``counterparts``: judge metric
    -> the automatic metric it is compared with (default AUTOMATIC_COUNTERPART)."""
    judged = [j for p in pairs for j in p.judgments if j.outcome is not None]
    firsts = [f for p in pairs for f in ([p.first_position_rate] if p.first_position_rate is not None else [])]
    warnings = []
    for label, (fp, spec) in dict(candidates).items():
        if judge.is_same_model(fp, spec):
            warnings.append(f"the judge {judge.spec.label} is also the candidate {label}: models tend to prefer "
                            "their own stories (self-preference); use another judge for that comparison")
    return ConsistencyReport(
        judge=judge.spec.label,
        order_agreement=(sum(bool(j.consistent) for j in judged) / len(judged)) if judged else None,
        position_bias=(sum(firsts) / len(firsts) - 0.5) if firsts else None,
        seed_agreement=seed_agreement, agreement=metric_agreement(scores, counterparts),
        missing=judge.missing if missing is None else missing,
        warnings=warnings,
    )
