"""The order reader: a small network trained to tell a story from corrupted copies of itself.

It reads a story's frozen MiniLM-L6 sentence embeddings in order (model.py) and gives one number, higher
when the sentences hold together in this order. Self-supervised (no human ratings): trained by
scripts/train_reader.py (train.py) on children's stories against shuffled, block-shuffled, swapped,
foreign-sentence, dropped-sentence and repeated-sentence copies (corrupt.py). The shipped weights,
their training record and norms sit beside this file; docs/reader.md is the model card.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.scorers.reader.model import HeadConfig, batch, build_head

WEIGHTS = Path(__file__).with_name("order_reader.safetensors")
RECORD = Path(__file__).with_name("order_reader.json")  # config, data, seed, steps, accuracy, norms
STRIDE_SHARE = 2  # long stories: windows of max_sentences sentences, each starting half a window on


def windows(n: int, size: int) -> list[tuple[int, int]]:
    """(start, end) of the windows a story of ``n`` sentences is read in: one when it fits, else windows
    of ``size`` overlapping by half, the last one ending at the story's end."""
    if n <= size:
        return [(0, n)]
    step = max(1, size // STRIDE_SHARE)
    starts = list(range(0, n - size + 1, step))
    if starts[-1] != n - size:
        starts.append(n - size)
    return [(s, s + size) for s in starts]


@dataclass
class OrderReader:
    """The loaded network and its training record."""

    net: Any
    config: HeadConfig
    record: dict

    def score(self, stories: Sequence[Any], batch_size: int = 256) -> list[float]:
        """One number per story (a (sentences, 384) array of its sentence embeddings, in order): the mean
        of the network's score over the story's windows."""
        import numpy as np
        import torch

        size = self.config.max_sentences
        spans = [[e[a:b] for a, b in windows(len(e), size)] for e in stories]
        flat = [w for ws in spans for w in ws]
        out = []
        with torch.inference_mode():
            for i in range(0, len(flat), batch_size):
                x, pad = batch(flat[i:i + batch_size], size)
                out.append(self.net(x, pad).float().numpy())
        vals = np.concatenate(out) if out else np.zeros(0)
        res, k = [], 0
        for ws in spans:
            res.append(float(vals[k:k + len(ws)].mean()))
            k += len(ws)
        return res


def load_state(net: Any, path: Path) -> None:
    from safetensors.torch import load_file

    net.load_state_dict(load_file(str(path)))
    net.eval()


@functools.lru_cache(maxsize=2)
def load_reader(weights: str = str(WEIGHTS), record: str = str(RECORD)) -> OrderReader:
    """The shipped reader (or the one at ``weights``/``record``), loaded once per process."""
    w, r = Path(weights), Path(record)
    if not w.is_file() or not r.is_file():
        raise EvalkitError(f"order reader not found: {w} and {r} are needed (scripts/train_reader.py writes them)")
    rec = json.loads(r.read_text(encoding="utf-8"))
    cfg = HeadConfig(**rec["config"])
    net = build_head(cfg)
    load_state(net, w)
    return OrderReader(net, cfg, rec)
