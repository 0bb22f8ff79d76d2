"""Vocabulary richness: how many different words the story uses before it repeats itself (MTLD; higher = richer).

MTLD, MATTR (window 50) and HD-D (42 draws), as lexicalrichness computes them; docs/metrics.md reports
MTLD's agreement with people's Complexity ratings on HANNA.

The formulas are lexicalrichness's, step for step (tests check the numbers are its own on every suite
story), written here because importing the library costs seconds (it imports matplotlib and textblob)
and its HD-D calls scipy once per word type: 4 s of the scorer's 5 s per 100 stories (issue 25).
lexicalrichness raises when a text is shorter than the MATTR window or the HD-D draws. Short stories
are still scored, explicitly: the window (draws) shrinks to the story's length, which makes MATTR and
HD-D the story's type-token ratio; a note says so.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from statistics import mean

import numpy as np

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import clean, words

MTLD_THRESHOLD = 0.72
MATTR_WINDOW = 50
HDD_DRAWS = 42
MIN_WORDS = 10  # below this no diversity measure means anything
RELIABLE_WORDS = 50  # McCarthy & Jarvis: MTLD and HD-D settle from about 50-100 words


def mtld(tokens: list[str], threshold: float = MTLD_THRESHOLD) -> float | None:
    """MTLD (McCarthy & Jarvis 2010): the mean of the forward and the backward pass, as
    ``LexicalRichness.mtld``."""
    if len(tokens) < MIN_WORDS:
        return None
    return float(mean((_mtld_pass(tokens, threshold), _mtld_pass(tokens[::-1], threshold))))


def _mtld_pass(tokens: list[str], threshold: float) -> float:
    terms: set[str] = set()
    count, factors, ttr = 0, 0.0, 1.0
    for word in tokens:
        count += 1
        terms.add(word)
        ttr = len(terms) / count
        if ttr <= threshold:
            count, terms = 0, set()
            factors += 1
    if count > 0:  # the last, partial segment: how far its TTR fell towards the threshold
        factors += (1 - ttr) / (1 - threshold)
    if factors == 0:  # the TTR never fell to the threshold
        ttr = len(set(tokens)) / len(tokens)
        factors += 1 if ttr == 1 else (1 - ttr) / (1 - threshold)
    return len(tokens) / factors


def mattr(tokens: list[str], window: int = MATTR_WINDOW) -> float | None:
    """Moving-average type-token ratio (each window's ratio summed in order, as lexicalrichness); the
    window shrinks to the text length for short texts."""
    n = len(tokens)
    if n == 0:
        return None
    w = min(window, n)
    counts = Counter(tokens[:w])
    total = len(counts) / w
    for i in range(w, n):  # slide one word: O(n) with running counts
        old = tokens[i - w]
        counts[old] -= 1
        if counts[old] == 0:
            del counts[old]
        counts[tokens[i]] += 1
        total += len(counts) / w
    return total / (n - w + 1)


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


def hdd_lexicalrichness(tokens: list[str], draws: int = HDD_DRAWS) -> float:
    """lexicalrichness's HD-D (``LexicalRichness.hdd``, for ``len(tokens) >= draws``) with one vectorised
    hypergeometric call instead of one scipy call per word type (50x faster): the same per-type terms,
    summed in the same order, so the same float."""
    from scipy.stats import hypergeom

    freqs = np.fromiter(Counter(tokens).values(), dtype=np.int64)
    terms = (1 - hypergeom.pmf(0, len(tokens), freqs, draws)) / draws
    return float(sum(terms.tolist()))


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
            r.values["mtld"] = mtld(toks)
            r.values["mattr_50"] = mattr(toks)
            # the library's HD-D where it runs; the same expectation with fewer draws where it raises
            r.values["hdd"] = hdd_lexicalrichness(toks) if n >= HDD_DRAWS else hdd(toks)
            if n < MATTR_WINDOW:
                r.notes["mattr_50"] = f"short story ({n} words < {MATTR_WINDOW}): window shrunk to {n}, i.e. type-token ratio"
            if n < HDD_DRAWS:
                r.notes["hdd"] = f"short story ({n} words < {HDD_DRAWS}): draws shrunk to {n}, i.e. type-token ratio"
            if n < RELIABLE_WORDS:
                r.notes["mtld"] = f"short story ({n} words): MTLD is unstable below {RELIABLE_WORDS} words"
            out.append(r)
        return out
