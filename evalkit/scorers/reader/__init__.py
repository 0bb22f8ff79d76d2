"""The order reader: a small model trained to tell a story from corrupted copies of itself.

It reads a story's frozen MiniLM-L6 sentence embeddings in order (model.py) and gives one number, higher
when the sentences hold together in this order. Self-supervised (no human ratings): trained by
scripts/train_reader.py (train.py) on children's stories, measured against shuffled, block-shuffled,
swapped, foreign-sentence, dropped-sentence and repeated-sentence copies (corrupt.py). The shipped
weights, their training record and norms sit beside this file; docs/reader.md is the model card.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.scorers.reader.model import story_score

WEIGHTS = Path(__file__).with_name("order_reader.safetensors")
RECORD = Path(__file__).with_name("order_reader.json")  # data, sizes, seed, accuracy, norms


@dataclass
class OrderReader:
    """The loaded weights (numpy arrays by name) and their training record."""

    weights: dict[str, Any]
    record: dict

    def score(self, stories: Sequence[Any]) -> list[float]:
        """One number per story, each a (sentences, 384) array of its sentence embeddings in order
        (2 or more sentences)."""
        return [story_score(self.weights, e) for e in stories]


@functools.lru_cache(maxsize=2)
def load_reader(weights: str = str(WEIGHTS), record: str = str(RECORD)) -> OrderReader:
    """The shipped reader (or the one at ``weights``/``record``), loaded once per process."""
    from safetensors.numpy import load_file

    w, r = Path(weights), Path(record)
    if not w.is_file() or not r.is_file():
        raise EvalkitError(f"order reader not found: {w} and {r} are needed (scripts/train_reader.py writes them)")
    return OrderReader(load_file(str(w)), json.loads(r.read_text(encoding="utf-8")))
