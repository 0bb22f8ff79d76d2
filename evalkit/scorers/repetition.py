"""Repetition: how much of the story says the same thing again, loops a reader notices (seq-rep-4; lower = better).

seq-rep-4 (Welleck et al. 2019), distinct-2, repeated sentences, zlib compression ratio and loop
detection (a line or phrase repeated to the end of the story); docs/metrics.md reports how they rise
with injected repeats and their agreement with people's Coherence ratings on HANNA."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import clean, ngrams, sentence_key, sentences, words

MAX_LOOP_PERIOD = 60  # words in the repeated unit: a phrase or a line or two
MIN_LOOP_REPEATS = 3  # the unit seen 3 times in a row at the end
MIN_LOOP_WORDS = 8
MIN_LOOP_SENTENCES = 3  # or the last 3+ sentences all said before
MIN_COMPRESSION_WORDS = 20  # below this zlib's fixed overhead, not repetition, sets the ratio


def seq_rep_n(tokens: list[str], n: int = 4) -> float | None:
    """1 - unique n-grams / n-grams; None when the text has no n-gram."""
    grams = ngrams(tokens, n)
    return 1.0 - len(set(grams)) / len(grams) if grams else None


def distinct_n(tokens: list[str], n: int = 2) -> float | None:
    grams = ngrams(tokens, n)
    return len(set(grams)) / len(grams) if grams else None


def repeated_sentence_share(sents: list[str]) -> float | None:
    """Share of sentences that repeat an earlier sentence (case and punctuation ignored)."""
    keys = [k for k in (sentence_key(s) for s in sents) if k]
    return 1.0 - len(set(keys)) / len(keys) if keys else None


def compression_ratio(tokens: list[str]) -> float | None:
    """Bytes of the word sequence / bytes after zlib (level 9): repeated text compresses better.
    It also grows slowly with length, so compare stories of similar length."""
    if len(tokens) < MIN_COMPRESSION_WORDS:
        return None
    raw = " ".join(tokens).encode("utf-8")
    return len(raw) / len(zlib.compress(raw, 9))


def loop_share(tokens: list[str], sents: list[str]) -> float:
    """Share of the story's words inside a loop that runs to the end: either a unit of up to 60 words
    repeated at least 3 times in a row, or a run of 3+ final sentences each already said before."""
    import numpy as np

    n = len(tokens)
    if n == 0:
        return 0.0
    best = 0
    ids = {w: i for i, w in enumerate(dict.fromkeys(tokens))}
    a = np.fromiter((ids[w] for w in tokens), dtype=np.int64, count=n)
    for p in range(1, min(MAX_LOOP_PERIOD, n // MIN_LOOP_REPEATS) + 1):
        eq = a[:-p] == a[p:]  # eq[i]: token i equals token i+p
        mismatch = np.flatnonzero(~eq)
        run = eq.size - (mismatch[-1] + 1) if mismatch.size else eq.size  # trailing periodic positions
        span = run + p
        if span >= MIN_LOOP_REPEATS * p and span >= MIN_LOOP_WORDS:
            best = max(best, span)
    keys = [sentence_key(s) for s in sents]
    seen: set[str] = set()
    said_before = []
    for k in keys:
        said_before.append(bool(k) and k in seen)
        seen.add(k)
    tail = 0
    while tail < len(keys) and said_before[len(keys) - 1 - tail]:
        tail += 1
    if tail >= MIN_LOOP_SENTENCES:
        best = max(best, sum(len(words(s)) for s in sents[len(sents) - tail:]))
    return min(1.0, best / n)


class RepetitionScorer(Scorer):
    name = "repetition"
    metrics = (
        Metric("seq_rep_4", "lower", 0.0, 1.0, "share of repeated 4-grams in the story (Welleck et al. 2019)"),
        Metric("distinct_2", "higher", 0.0, 1.0, "unique bigrams / bigrams within the story"),
        Metric("repeated_sentences", "lower", 0.0, 1.0, "share of sentences that repeat an earlier one"),
        Metric("compression_ratio", "lower", 0.0, None, "text bytes / zlib bytes: repeated text compresses more"),
        Metric("loop", "lower", 0.0, 1.0, "share of words in a loop running to the end (a line or phrase repeated)"),
    )

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        out = []
        for s in stories:
            text = clean(s.text)
            toks, sents = words(text), sentences(text)
            r = StoryScores({
                "seq_rep_4": seq_rep_n(toks, 4),
                "distinct_2": distinct_n(toks, 2),
                "repeated_sentences": repeated_sentence_share(sents),
                "compression_ratio": compression_ratio(toks),
                "loop": loop_share(toks, sents) if toks else None,
            })
            for k, v in r.values.items():
                if v is None:
                    need = f", needs {MIN_COMPRESSION_WORDS}" if k == "compression_ratio" and toks else ""
                    r.notes[k] = f"not scorable: {len(toks)} word(s){need}"
            out.append(r)
        return out
