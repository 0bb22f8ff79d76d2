"""G-Eval's score: the expected rating Σ k·p(k) over the answers "1".."5" (Liu et al. 2023).

Probabilities are renormalised over the answers considered, so the mass the judge puts elsewhere
(a space, "The") does not pull the rating down; that mass is kept as ``coverage`` so a judge that
barely answers with a digit can be spotted."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


def normalise(probs: Mapping[str, float], choices: Iterable[str]) -> tuple[dict[str, float], float]:
    """(probabilities over ``choices`` summing to 1, mass they had before); all-zero -> ({}, 0)."""
    raw = {c: max(0.0, float(probs.get(c, 0.0))) for c in choices}
    total = sum(raw.values())
    if total <= 0 or not math.isfinite(total):
        return {}, 0.0
    return {c: p / total for c, p in raw.items()}, total


def expected_value(probs: Mapping[str, float], values: Mapping[str, float]) -> float | None:
    """Σ value(c)·p(c) after renormalising over ``values``' keys; None when no mass is on them."""
    norm, _ = normalise(probs, values)
    if not norm:
        return None
    return sum(values[c] * p for c, p in norm.items())


def rating_values(choices: Iterable[str]) -> dict[str, float]:
    """"1".."5" -> 1..5; "A"/"B" -> 1/0 (the probability that the first story is preferred)."""
    out = {}
    for c in choices:
        out[c] = float(c) if c.isdigit() else (1.0 if c == "A" else 0.0)
    return out


def probs_from_top_logprobs(entries: Iterable[dict], choices: Iterable[str]) -> dict[str, float]:
    """Sum exp(logprob) per answer over an OpenAI ``top_logprobs`` list, whose tokens may carry
    spaces ("4", " 4") or appear twice."""
    wanted = set(choices)
    out: dict[str, float] = {}
    for e in entries:
        if not isinstance(e, dict):
            continue
        tok, lp = e.get("token"), e.get("logprob")
        if not isinstance(tok, str) or not isinstance(lp, (int, float)):
            continue
        t = tok.strip()
        if t in wanted and math.isfinite(lp):
            out[t] = out.get(t, 0.0) + math.exp(lp)
    return out
