"""Repetition: seq-rep-4 (Welleck et al. 2019) and distinct-2."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import ngrams, words


def seq_rep_n(tokens: list[str], n: int = 4) -> float | None:
    """1 - unique n-grams / n-grams; None when the text has no n-gram."""
    grams = ngrams(tokens, n)
    return 1.0 - len(set(grams)) / len(grams) if grams else None


def distinct_n(tokens: list[str], n: int = 2) -> float | None:
    grams = ngrams(tokens, n)
    return len(set(grams)) / len(grams) if grams else None


class RepetitionScorer(Scorer):
    name = "repetition"
    metrics = (
        Metric("seq_rep_4", "lower", 0.0, 1.0, "share of repeated 4-grams in the story (Welleck et al. 2019)"),
        Metric("distinct_2", "higher", 0.0, 1.0, "unique bigrams / bigrams within the story"),
    )

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        out = []
        for s in stories:
            toks = words(s.text)
            r = StoryScores({"seq_rep_4": seq_rep_n(toks, 4), "distinct_2": distinct_n(toks, 2)})
            if r.values["seq_rep_4"] is None:
                r.notes["seq_rep_4"] = f"not scorable: {len(toks)} word(s)"
            if r.values["distinct_2"] is None:
                r.notes["distinct_2"] = f"not scorable: {len(toks)} word(s)"
            out.append(r)
        return out
