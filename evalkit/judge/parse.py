"""Reading an answer out of a judge's free text (sampled answers, servers without logprobs)."""

from __future__ import annotations

import re

_TIE = re.compile(r"\b(tie|equal(ly)?|same|neither|both)\b", re.I)


def parse_choice(text: str, choices: tuple[str, ...]) -> str | None:
    """The first of ``choices`` standing alone in ``text`` ("4", "Rating: 4/5", "**B**"), else None.

    Ratings: a digit glued to other digits ("45", "10") is not a rating. Letters: only a capital
    letter standing alone counts, so the article "a" is not read as story A."""
    if not text:
        return None
    for m in re.finditer(r"(?<![0-9A-Za-z])([0-9A-Za-z])(?![0-9A-Za-z])", text):
        if m.group(1) in choices:
            return m.group(1)
    return None


def says_tie(text: str) -> bool:
    return bool(_TIE.search(text or ""))
