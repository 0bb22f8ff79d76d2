"""Pairwise preference: per suite item the judge reads both models' stories in both orders.

Per order the judge gives p(first story preferred). An item is won by a model when both orders
prefer its story; when the orders disagree (the judge followed the position) or the judge is exactly
undecided, it is a tie. Win rate = (wins + ties/2) / items judged, with evalkit.stats' percentile bootstrap
95% interval over items. Position bias = share of single-order choices that went to the story shown first,
minus 0.5. The report renders ``PreferenceRow`` as an extra "Judge preference" row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from evalkit.judge.prompts import pairwise_prompt
from evalkit.judge.rubric import Rubric, builtin_rubrics
from evalkit.stats import RESAMPLES, SEED, paired_bootstrap_ci

ROW_LABEL = "Judge preference"


class PairJudgment(BaseModel):
    """The judge's choice for one suite item, both orders."""

    item_id: str = Field(description="suite item")
    p_a_first: float | None = Field(description="P(judge prefers A's story) when A's story is shown first")
    p_a_second: float | None = Field(description="P(judge prefers A's story) when A's story is shown second")
    outcome: Literal["a", "b", "tie"] | None = Field(description="a/b: both orders agree; tie: they disagree "
                                                     "or the judge is undecided; None: an answer is missing")
    consistent: bool | None = Field(description="the two orders chose the same story")
    method: str | None = Field(None, description="how the judge's answers became probabilities")
    note: str | None = Field(None, description="why an answer is missing")


class PreferenceRow(BaseModel):
    """The "Judge preference" row: how often the judge prefers model A's stories over model B's."""

    label: str = Field(ROW_LABEL, description="row name in the report")
    judge: str = Field(description="judge model label")
    criterion: str = Field(description="rubric the judge compared on")
    model_a: str = Field(description="first model")
    model_b: str = Field(description="second model")
    n: int = Field(description="items with both orders answered")
    n_missing: int = Field(description="items where an answer is missing")
    wins_a: int = Field(description="items where both orders preferred A")
    wins_b: int = Field(description="items where both orders preferred B")
    ties: int = Field(description="items where the orders disagree or the judge is undecided")
    win_rate_a: float | None = Field(description="(wins_a + ties/2) / n")
    ci_low: float | None = Field(description="percentile bootstrap 95% interval over items, low end")
    ci_high: float | None = Field(description="... high end")
    order_agreement: float | None = Field(description="share of items where both orders chose the same story")
    first_position_rate: float | None = Field(description="share of single-order choices for the story shown first")
    position_bias: float | None = Field(description="first_position_rate - 0.5 (0: no bias)")
    judgments: list[PairJudgment] = Field(default_factory=list, description="per item")


def decide(p_a_first: float | None, p_a_second: float | None) -> tuple[str | None, bool | None]:
    if p_a_first is None or p_a_second is None:
        return None, None
    picks = ["a" if p > 0.5 else "b" if p < 0.5 else "tie" for p in (p_a_first, p_a_second)]
    if picks[0] == picks[1]:
        return picks[0], picks[0] != "tie"
    return "tie", False


def outcome_value(outcome: str) -> float:
    """A's share of one item: 1 (A preferred in both orders), 0 (B), 0.5 (a tie)."""
    return 1.0 if outcome == "a" else 0.0 if outcome == "b" else 0.5


def win_rate(outcomes: Sequence[str], items: Sequence[str] | None = None, seed: int = SEED,
             resamples: int = RESAMPLES) -> tuple[float | None, float | None, float | None]:
    """(win rate of A, low, high of its percentile bootstrap 95% interval) over items, a tie counting half.
    The interval is evalkit.stats' bootstrap, resampling whole items (``items``: each outcome's item)."""
    xs = [outcome_value(o) for o in outcomes]
    if not xs:
        return None, None, None
    lo, hi = paired_bootstrap_ci(xs, resamples, seed, clusters=items)
    return sum(xs) / len(xs), lo, hi


def compare_pair(judge: Any, items: Sequence[Any], texts_a: Mapping[str, str], texts_b: Mapping[str, str],
                 model_a: str, model_b: str, rubric: Rubric | None = None,
                 genres: Mapping[str, str] | None = None, progress: Any = None) -> PreferenceRow:
    """Ask ``judge`` (a evalkit.judge.judge.Judge) about every item both models wrote a story for."""
    rubric = rubric or builtin_rubrics()["overall"]
    genres = genres or {}
    both = [i for i in items if i.id in texts_a and i.id in texts_b]
    qs = []
    for it in both:
        a, b = texts_a[it.id], texts_b[it.id]
        gdef = genres.get(it.genre)
        for first, second, order in ((a, b, "a>b"), (b, a, "b>a")):
            p = pairwise_prompt(rubric, first, second, it.prompt, it.genre, gdef, judge.defence)
            qs.append(judge.question(p, "pairwise", rubric, f"{judge.story_hash(first)}:{judge.story_hash(second)}", order))
    recs = judge.ask(qs, progress)
    judgments = []
    for n, it in enumerate(both):
        ab, ba = recs[2 * n], recs[2 * n + 1]
        p1 = ab.value
        p2 = None if ba.value is None else 1.0 - ba.value
        outcome, consistent = decide(p1, p2)
        note = "; ".join(r.note for r in (ab, ba) if r.value is None and r.note) or None
        judgments.append(PairJudgment(item_id=it.id, p_a_first=p1, p_a_second=p2, outcome=outcome,
                                      consistent=consistent, method=ab.method, note=note))
    return summarize_pairs(judgments, judge.spec.label, rubric.name, model_a, model_b)


def summarize_pairs(judgments: list[PairJudgment], judge_label: str, criterion: str, model_a: str,
                    model_b: str) -> PreferenceRow:
    done = [j for j in judgments if j.outcome is not None]
    outcomes = [j.outcome for j in done]
    rate, lo, hi = win_rate(outcomes, [j.item_id for j in done])  # type: ignore[arg-type]
    # single-order choices: order a>b shows A first, b>a shows B first
    firsts = []
    for j in judgments:
        if j.p_a_first is not None and j.p_a_first != 0.5:
            firsts.append(j.p_a_first > 0.5)
        if j.p_a_second is not None and j.p_a_second != 0.5:
            firsts.append(j.p_a_second < 0.5)
    fpr = sum(firsts) / len(firsts) if firsts else None
    return PreferenceRow(
        judge=judge_label, criterion=criterion, model_a=model_a, model_b=model_b, n=len(done),
        n_missing=len(judgments) - len(done), wins_a=outcomes.count("a"), wins_b=outcomes.count("b"),
        ties=outcomes.count("tie"), win_rate_a=rate, ci_low=lo, ci_high=hi,
        order_agreement=(sum(bool(j.consistent) for j in done) / len(done)) if done else None,
        first_position_rate=fpr, position_bias=None if fpr is None else fpr - 0.5, judgments=judgments,
    )
