"""Planted scorers for the validate tests: numbers known in advance, read from the story text.

Each story carries its rating as ``rating=<x>``. Every scored story is appended to the file named by
EVALKIT_TEST_SCORED (one line: scorer name), so tests count real scorer calls across processes.
"""

from __future__ import annotations

import hashlib
import os
import re

from evalkit.scorers.base import Metric, Scorer, StoryScores


def planted_rating(text: str) -> float:
    return float(re.search(r"rating=([0-9.]+)", text).group(1))


def _log(name: str, n: int) -> None:
    path = os.environ.get("EVALKIT_TEST_SCORED")
    if path:
        with open(path, "a") as f:
            f.write(f"{name}\n" * n)


class Planted(Scorer):
    name = "planted"
    metrics = (Metric("planted", "higher"), Metric("planted_neg", "lower"), Metric("planted_random", "none"))

    def score(self, stories, context):
        _log(self.name, len(stories))
        out = []
        for s in stories:
            r = planted_rating(s.text)
            noise = int(hashlib.sha256(s.text.encode()).hexdigest()[:8], 16) / 16**8
            out.append(StoryScores({"planted": r, "planted_neg": -r, "planted_random": noise}))
        return out


class Length(Scorer):
    name = "length"
    metrics = (Metric("length_chars", "none"),)

    def score(self, stories, context):
        _log(self.name, len(stories))
        return [StoryScores({"length_chars": float(len(s.text))}) for s in stories]
