"""The order reader's model: linear judgements over frozen MiniLM sentence embeddings.

- pair: does sentence b follow sentence a (features a, b, a*b, a-b)? Trained on a story's adjacent pairs
  against the same pairs reversed, pairs with a gap (a later sentence of the same story) and pairs with a
  sentence of another story.
- opening / ending: is this sentence a story's first (last)? Trained against the story's other sentences.

A story's score is the mean pair logit over its adjacent sentences plus (opening logit of its first
sentence + ending logit of its last) / sentences: higher when the sentences hold together in this order.
"""

from __future__ import annotations

from typing import Any

EMBED_DIM = 384  # MiniLM-L6 sentence embeddings
PARTS = ("pair", "opening", "ending")


def pair_features(a: Any, b: Any) -> Any:
    """(n, 4 * EMBED_DIM) features of the pairs (a[i], b[i])."""
    import numpy as np

    return np.concatenate([a, b, a * b, a - b], axis=1)


def story_score(weights: dict[str, Any], e: Any) -> float:
    """The score of one story from its (sentences, EMBED_DIM) embeddings (2 or more sentences)."""
    pair = pair_features(e[:-1], e[1:]) @ weights["pair.w"] + weights["pair.b"]
    opening = float(e[0] @ weights["opening.w"] + weights["opening.b"][0])
    ending = float(e[-1] @ weights["ending.w"] + weights["ending.b"][0])
    return float(pair.mean()) + (opening + ending) / len(e)
