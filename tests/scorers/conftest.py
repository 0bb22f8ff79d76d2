"""Shared scorer fixtures: one ScoringContext (one MiniLM load) and one scoring LM per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BAD_INPUTS = {
    "empty": "",
    "one_word": "Dragon",
    "non_english": "Der kleine Drache wohnte in einer Höhle. Er konnte kein Feuer speien. 小さな竜は火を吹けなかった。",
    "punctuation": "... !!! ??? ,,, ;;; --- ...",
    "html_control": "<p>Once <b>upon</b> a time\x00\x07 there was a <script>alert(1)</script> cat &amp; a dog.</p>\x1b[31m",
    "long": " ".join(["The little fox ran to the river and looked at the moon."] * 1700),  # ~20,000 words
}


@pytest.fixture(scope="session")
def embed_context():
    """A suite-less context whose MiniLM model is loaded once for every test that embeds."""
    from evalkit.scorers.base import ScoringContext

    return ScoringContext()


@pytest.fixture(scope="session")
def scoring_lm():
    from evalkit.scorers.lm import ScoringLM

    return ScoringLM()
