"""Character consistency: the share of requested characters still there after the first third (higher = better).

Are the requested characters named, and still there after the first third? (HANNA asks for no
characters, so docs/metrics.md has no agreement with people for it.)

A character counts as named when its full name, or any part of it that is not a title ("Grandma",
"Captain", "the"...), appears as a whole word (case-insensitive). Both metrics are shares of the
requested characters, so a story that drops a character midway loses persistence, not coverage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import clean

TITLES = {
    "the", "a", "an", "of", "mr", "mrs", "ms", "miss", "dr", "sir", "lady", "lord", "king", "queen",
    "prince", "princess", "captain", "professor", "grandma", "grandpa", "granny", "grandmother",
    "grandfather", "auntie", "aunt", "uncle", "mama", "papa", "mom", "dad", "old", "little", "big",
    "young", "great", "brother", "sister", "baby", "mister", "madam", "doctor", "chief", "officer",
}


def name_patterns(name: str) -> list[re.Pattern[str]]:
    parts = re.findall(r"[^\W_]+(?:['’-][^\W_]+)*", name)
    keys = [name.strip()] + [p for p in parts if p.lower() not in TITLES and len(p) > 1]
    if len(keys) == 1 and parts:  # a name made only of titles ("The Queen"): its last word
        keys.append(parts[-1])
    return [re.compile(r"(?<![^\W_])" + re.escape(k) + r"(?![^\W_])", re.IGNORECASE) for k in dict.fromkeys(keys) if k]


def first_mentions(text: str, name: str) -> list[int]:
    """Character offsets where the character is named."""
    return sorted({m.start() for p in name_patterns(name) for m in p.finditer(text)})


class CharacterScorer(Scorer):
    name = "characters"
    metrics = (
        Metric("character_coverage", "higher", 0.0, 1.0, "share of the requested characters named in the story"),
        Metric("character_persistence", "higher", 0.0, 1.0,
               "share of the requested characters still named after the first third of the story"),
    )

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        out = []
        for s in stories:
            text = clean(s.text)
            names = [c.name for c in s.characters if c.name.strip()]
            if not names:
                why = "not scorable: no characters were requested"
                out.append(StoryScores({"character_coverage": None, "character_persistence": None},
                                       {"character_coverage": why, "character_persistence": why}))
                continue
            if not text:
                why = "not scorable: empty story"
                out.append(StoryScores({"character_coverage": None, "character_persistence": None},
                                       {"character_coverage": why, "character_persistence": why}))
                continue
            third = len(text) / 3
            named, later, missing = 0, 0, []
            for n in names:
                pos = first_mentions(text, n)
                named += bool(pos)
                later += any(p >= third for p in pos)
                if not pos:
                    missing.append(n)
            r = StoryScores({"character_coverage": named / len(names), "character_persistence": later / len(names)})
            if missing:
                r.notes["character_coverage"] = "not named: " + ", ".join(missing)[:200]
            out.append(r)
        return out
