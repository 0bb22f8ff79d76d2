"""Vocabulary richness: how many different words the story uses before it repeats itself (MTLD; higher = richer).

MTLD, MATTR (window 50) and HD-D (42 draws), via lexicalrichness; docs/metrics.md reports MTLD's agreement
with people's Complexity ratings on HANNA.

lexicalrichness raises when a text is shorter than the MATTR window or the HD-D draws. Short stories
are still scored, explicitly: the window (draws) shrinks to the story's length, which makes MATTR and
HD-D the story's type-token ratio; a note says so. ``mattr``/``hdd`` below are that computation for
any length and agree with lexicalrichness wherever both run (tests check it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import clean, words

MTLD_THRESHOLD = 0.72
MATTR_WINDOW = 50
HDD_DRAWS = 42
MIN_WORDS = 10  # below this no diversity measure means anything
RELIABLE_WORDS = 50  # McCarthy & Jarvis: MTLD and HD-D settle from about 50-100 words


def _lex(tokens: list[str]):
    from lexicalrichness import LexicalRichness

    return LexicalRichness(list(tokens), preprocessor=None, tokenizer=None)


def mtld(tokens: list[str], threshold: float = MTLD_THRESHOLD) -> float | None:
    if len(tokens) < MIN_WORDS:
        return None
    return float(_lex(tokens).mtld(threshold=threshold))


def mattr(tokens: list[str], window: int = MATTR_WINDOW) -> float | None:
    """Moving-average type-token ratio; the window shrinks to the text length for short texts."""
    n = len(tokens)
    if n == 0:
        return None
    w = min(window, n)
    counts = Counter(tokens[:w])
    total = len(counts)
    for i in range(w, n):  # slide one word: O(n) with running counts
        old = tokens[i - w]
        counts[old] -= 1
        if counts[old] == 0:
            del counts[old]
        counts[tokens[i]] += 1
        total += len(counts)
    return total / ((n - w + 1) * w)


def hdd(tokens: list[str], draws: int = HDD_DRAWS) -> float | None:
    """HD-D (McCarthy & Jarvis 2007): expected type-token ratio of a random sample of ``draws`` words;
    draws shrink to the text length for short texts."""
    n = len(tokens)
    if n == 0:
        return None
    d = min(draws, n)
    total = 0.0
    for freq in Counter(tokens).values():
        # P(no copy of the word among d draws without replacement) = C(n-f, d) / C(n, d)
        p0 = 0.0 if n - freq < d else math.exp(_lncomb(n - freq, d) - _lncomb(n, d))
        total += (1.0 - p0) / d
    return total


def _lncomb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


class VocabularyScorer(Scorer):
    name = "vocabulary"
    metrics = (
        Metric("mtld", "higher", 0.0, None, "measure of textual lexical diversity (McCarthy & Jarvis 2010)"),
        Metric("mattr_50", "higher", 0.0, 1.0, "moving-average type-token ratio, window 50 (Covington & McFall 2010)"),
        Metric("hdd", "higher", 0.0, 1.0, "HD-D: expected type-token ratio of 42 random words (McCarthy & Jarvis 2007)"),
    )

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        out = []
        for s in stories:
            toks = words(clean(s.text))
            n = len(toks)
            r = StoryScores()
            if n < MIN_WORDS:
                r.values = {"mtld": None, "mattr_50": None, "hdd": None}
                r.notes = {k: f"not scorable: {n} word(s), vocabulary measures need {MIN_WORDS}" for k in r.values}
                out.append(r)
                continue
            lex = _lex(toks)
            r.values["mtld"] = float(lex.mtld(threshold=MTLD_THRESHOLD))
            # the library where it runs; the same formula with a shrunken window where it raises
            r.values["mattr_50"] = float(lex.mattr(window_size=MATTR_WINDOW)) if n >= MATTR_WINDOW else mattr(toks)
            r.values["hdd"] = float(lex.hdd(draws=HDD_DRAWS)) if n >= HDD_DRAWS else hdd(toks)
            if n < MATTR_WINDOW:
                r.notes["mattr_50"] = f"short story ({n} words < {MATTR_WINDOW}): window shrunk to {n}, i.e. type-token ratio"
            if n < HDD_DRAWS:
                r.notes["hdd"] = f"short story ({n} words < {HDD_DRAWS}): draws shrunk to {n}, i.e. type-token ratio"
            if n < RELIABLE_WORDS:
                r.notes["mtld"] = f"short story ({n} words): MTLD is unstable below {RELIABLE_WORDS} words"
            out.append(r)
        return out
