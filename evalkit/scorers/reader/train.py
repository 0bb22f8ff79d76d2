"""Training and evaluation of the order reader (scripts/train_reader.py is the one command that runs it).

The MiniLM embeddings are frozen, so every sentence is embedded once; the training examples are pairs
and single sentences of those embeddings, and each part of the model is a logistic regression
(scikit-learn): training takes seconds on 2 cores once the sentences are embedded.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.scorers.reader.corrupt import KINDS, MIN_SENTENCES, corrupt
from evalkit.scorers.reader.model import pair_features
from evalkit.scorers.text import clean, sentences


@dataclass
class TrainSettings:
    seed: int = 0
    c: float = 1.0  # inverse L2 penalty of every logistic regression
    max_iter: int = 300
    endings: int = 2  # sentences of the same story drawn as "not the first (last)" per story


def read_stories(path: str | Path) -> list[list[str]]:
    """A corpus as lists of sentences: JSONL (optionally .gz) whose rows carry ``sentences`` (kept as
    split) or ``story``/``text`` (split by evalkit's sentence rule). Rows whose ``split``/``part`` does not
    start with "train" are left out: held-out stories never reach the weights."""
    opener = gzip.open if str(path).endswith(".gz") else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if not str(row.get("split", row.get("part", "train"))).startswith("train"):
                continue
            sents = row.get("sentences") or sentences(clean(row.get("story") or row.get("text") or ""))
            if sents:
                out.append([s.strip() for s in sents if s.strip()])
    return out


def embed_stories(stories: Sequence[Sequence[str]], embed: Callable[[list[str]], Any]) -> list[Any]:
    """Each story's (sentences, 384) float32 matrix, from one batched ``embed`` call over all sentences."""
    import numpy as np

    flat = [s for st in stories for s in st]
    vecs = np.asarray(embed(flat), dtype=np.float32)
    out, k = [], 0
    for st in stories:
        out.append(vecs[k:k + len(st)])
        k += len(st)
    return out


def examples(stories: Sequence[Any], settings: TrainSettings) -> dict[str, tuple[Any, Any]]:
    """(X, y) per part: pair (adjacent in order = 1; reversed, with a gap, or with another story's
    sentence = 0), opening and ending (the story's first/last sentence = 1; others of it = 0)."""
    import numpy as np

    rng = random.Random(settings.seed)
    usable = [e for e in stories if len(e) >= MIN_SENTENCES]
    a, b, y = [], [], []
    ends: dict[str, tuple[list, list]] = {"opening": ([], []), "ending": ([], [])}
    for s, e in enumerate(usable):
        n = len(e)
        for i in range(n - 1):
            a += [e[i], e[i + 1]]
            b += [e[i + 1], e[i]]
            y += [1, 0]
            j = rng.randrange(n)
            if abs(j - i) > 1:  # a gap: what a drop or a shuffle puts next to each other
                a.append(e[i]), b.append(e[j]), y.append(0)
            if rng.random() < 0.5:  # another story's sentence: what an insertion puts next
                other = usable[rng.randrange(len(usable))]
                if other is not e:
                    a.append(e[i]), b.append(other[rng.randrange(len(other))]), y.append(0)
        for part, pos in (("opening", 0), ("ending", n - 1)):
            xs, ys = ends[part]
            xs.append(e[pos]), ys.append(1)
            for k in rng.sample([k for k in range(n) if k != pos], min(settings.endings, n - 1)):
                xs.append(e[k]), ys.append(0)
    out = {"pair": (pair_features(np.array(a), np.array(b)), np.array(y))}
    out.update({p: (np.array(xs), np.array(ys)) for p, (xs, ys) in ends.items()})
    return out


def train_reader(stories: Sequence[Any], settings: TrainSettings) -> dict[str, Any]:
    """The weights, by name (``<part>.w``, ``<part>.b``): one logistic regression per part."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    weights = {}
    for part, (x, y) in examples(stories, settings).items():
        m = LogisticRegression(C=settings.c, max_iter=settings.max_iter).fit(x, y)
        weights[f"{part}.w"] = m.coef_[0].astype(np.float32)
        weights[f"{part}.b"] = m.intercept_.astype(np.float32)
    return weights


def accuracy_by_kind(score: Callable[[list[Any]], Sequence[float]], stories: Sequence[Any],
                     kinds: Iterable[str] = KINDS, seed: int = 1) -> dict[str, float]:
    """Share of ``stories`` (items in order) that ``score`` ranks above one copy corrupted by each kind
    (a tie counts as a miss); stories too short to corrupt are left out."""
    rng = random.Random(seed)
    usable = [e for e in stories if len(e) >= MIN_SENTENCES]
    foreign = [x for e in usable for x in e]
    orig = score(list(usable))
    out = {}
    for k in kinds:
        neg = score([_as_like(e, corrupt(list(e), k, rng, [foreign[rng.randrange(len(foreign))]])) for e in usable])
        out[k] = sum(a > b for a, b in zip(orig, neg)) / len(usable) if usable else float("nan")
    return out


def _as_like(original: Any, items: list) -> Any:
    """A corrupted copy in the original's container type (a numpy matrix stays a matrix)."""
    import numpy as np

    return np.stack(items) if isinstance(original, np.ndarray) else items


def save(weights: dict[str, Any], path: Path) -> None:
    from safetensors.numpy import save_file

    save_file(weights, str(path))
