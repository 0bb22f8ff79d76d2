"""Shared scorer fixtures: one ScoringContext (one MiniLM load) and one scoring LM per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embed_context():
    """A suite-less context whose MiniLM model is loaded once for every test that embeds."""
    from evalkit.scorers.base import ScoringContext

    return ScoringContext()


@pytest.fixture(scope="session")
def scoring_lm():
    from evalkit.scorers.lm import ScoringLM

    return ScoringLM()


@pytest.fixture(scope="session", autouse=True)
def small_genre_corpus(tmp_path_factory):
    """Scorer tests train the genre classifier on a real but small slice of the shipped corpus (its
    train part, the first 10 stories per genre), with a private model cache, so a test run stays short
    and never reads or writes the user's cache. Yields the slice's path."""
    import json

    from evalkit.scorers import genre_classifier as gc

    root = tmp_path_factory.mktemp("genre-corpus")
    rows, seen = [], {}
    for line in gc.CORPUS_FILE.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["part"] == "train" and seen.get(r["genre"], 0) < 10:
            seen[r["genre"]] = seen.get(r["genre"], 0) + 1
            rows.append(line)
    path = root / "stories.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gc, "CORPUS_FILE", path)
        mp.setenv("EVALKIT_CACHE", str(root / "cache"))
        yield path
