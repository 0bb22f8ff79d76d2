"""Coherence read by another scoring LM is standardized with that LM's HANNA norms (scripts/fit_lm_norms.py)."""

from __future__ import annotations

import json
import math

import pytest

from evalkit.scorers import coherence
from evalkit.scorers.base import ScoringContext
from evalkit.scorers.lm import lm_fingerprint, weights_fingerprint

PARTS = {"coherence_fluency": -2.9, "coherence_order": 1.2, "coherence_variety": 0.9, "coherence_prompt_focus": 0.45,
         "coherence_wellformed": 0.8, "coherence_relevance": 0.3, "coherence_adjacent": 0.31}


def test_the_default_lm_uses_the_shipped_norms() -> None:
    ctx = ScoringContext()
    assert lm_fingerprint(ctx) is None and coherence.lm_norms(ctx) is None
    values, notes = dict(PARTS), {}
    coherence.CoherenceScorer().derive(values, notes, ctx)
    assert values["coherence"] == pytest.approx(coherence.combine(PARTS)) and "coherence" not in notes


def test_another_lm_is_standardized_with_its_own_norms(tiny_gpt2_dir, tmp_path, monkeypatch) -> None:
    ctx = ScoringContext(options={"lm": {"path": str(tiny_gpt2_dir)}})
    fp = lm_fingerprint(ctx)
    assert fp == weights_fingerprint(tiny_gpt2_dir) and fp is not None
    norms_file = tmp_path / "norms.json"
    monkeypatch.setattr(coherence, "LM_NORMS_FILE", norms_file)

    values, notes = dict(PARTS), {}  # no norms stored for this LM: SmolLM2's, and the note says so
    coherence.CoherenceScorer().derive(values, notes, ctx)
    assert values["coherence"] == pytest.approx(coherence.combine(PARTS))
    assert fp in notes["coherence"] and "SmolLM2's norms" in notes["coherence"]

    # norms that put this story's LM parts exactly at this LM's mean: only the other parts count
    norms_file.write_text(json.dumps({fp: {"name": "tiny", "parts": {"coherence_fluency": [-2.9, 0.5],
                                                                    "coherence_order": [1.2, 1.0]}}}))
    values, notes = dict(PARTS), {}
    coherence.CoherenceScorer().derive(values, notes, ctx)
    rest = sum(w * (PARTS[k] - mu) / sd for k, (w, mu, sd) in coherence.PARTS.items() if k not in coherence.LM_PARTS)
    assert values["coherence"] == pytest.approx(1 / (1 + math.exp(-rest / coherence.SCALE)))
    assert values["coherence"] != pytest.approx(coherence.combine(PARTS)) and "coherence" not in notes
