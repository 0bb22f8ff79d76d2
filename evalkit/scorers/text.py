"""Tokenisation shared by the lexical scorers: one definition of a word and a sentence.

Generated text is untrusted: ``clean`` drops HTML tags and control characters first, so markup
never counts as words and no scorer sees bytes that break a library.
"""

from __future__ import annotations

import html
import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_SENT_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)|\n\s*\n")
_TAG = re.compile(r"<[^<>]{0,200}>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t]+")


def clean(text: str | None) -> str:
    """Plain text: HTML tags removed, entities decoded, control characters dropped."""
    if not text:
        return ""
    text = html.unescape(_TAG.sub(" ", text))
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _SPACES.sub(" ", text).strip()


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits, inner apostrophes kept)."""
    return [w.lower() for w in _WORD.findall(text)]


def sentences(text: str) -> list[str]:
    """Sentences: split after . ! ? (and closing quotes) and at blank lines."""
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        part = text[start : m.end()].strip()
        if part:
            out.append(part)
        start = m.end()
    tail = text[start:].strip()
    return out + [tail] if tail else out


def sentence_key(sentence: str) -> str:
    """A sentence's identity for repetition: its words, lower-cased (punctuation and case ignored)."""
    return " ".join(words(sentence))


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
