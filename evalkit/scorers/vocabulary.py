"""Vocabulary richness: MTLD (lexicalrichness)."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import words


def mtld(tokens: list[str], threshold: float = 0.72) -> float | None:
    if len(tokens) < 10:
        return None
    from lexicalrichness import LexicalRichness

    lex = LexicalRichness(" ".join(tokens), preprocessor=None, tokenizer=str.split)
    return float(lex.mtld(threshold=threshold))


class VocabularyScorer(Scorer):
    name = "vocabulary"
    metrics = (Metric("mtld", "higher", 0.0, None, "measure of textual lexical diversity (McCarthy & Jarvis 2010)"),)

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        out = []
        for s in stories:
            toks = words(s.text)
            value = mtld(toks)
            r = StoryScores({"mtld": value})
            if value is None:
                r.notes["mtld"] = f"not scorable: {len(toks)} word(s), MTLD needs 10"
            out.append(r)
        return out
