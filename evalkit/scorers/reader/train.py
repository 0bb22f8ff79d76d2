"""Training and evaluation of the order reader (scripts/train_reader.py is the one command that runs it).

The MiniLM embeddings are frozen, so every sentence is embedded once and each corrupted copy is built by
rearranging rows of its story's embedding matrix: a step costs only the small network's forward and
backward pass, and training fits on 2 cores in minutes.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.scorers.reader.corrupt import KINDS, MIN_SENTENCES, corrupt
from evalkit.scorers.reader.model import HeadConfig, batch, build_head
from evalkit.scorers.text import clean, sentences

MIN_TRAIN_SENTENCES = 4  # a training window: at least this many sentences...
WINDOW_MIN = 5  # ...cut to 5-max_sentences consecutive sentences when the story is longer


@dataclass
class TrainSettings:
    steps: int = 3000
    batch_size: int = 64  # originals per step, each against one corrupted copy
    lr: float = 1e-3
    weight_decay: float = 0.01
    seed: int = 0
    kinds: tuple[str, ...] = tuple(KINDS)
    config: HeadConfig = field(default_factory=HeadConfig)


def read_stories(path: str | Path) -> list[list[str]]:
    """A corpus as lists of sentences: JSONL (optionally .gz) whose rows carry ``sentences`` (kept as
    split) or ``story``/``text`` (split by evalkit's sentence rule). Rows with a ``split``/``part`` other
    than train are left out: held-out stories never reach the weights."""
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


def chunk(stories: Sequence[Any], size: int) -> list[Any]:
    """Stories longer than two windows cut into consecutive pieces of ``size`` sentences (the last piece
    keeps the rest), so a long tale weighs in training by its length, not as one story."""
    out = []
    for e in stories:
        if len(e) <= 2 * size:
            out.append(e)
            continue
        cuts = list(range(0, len(e) - size, size))
        out += [e[a:b] for a, b in zip(cuts, [*cuts[1:], len(e)])]
    return out


def _window(e: Any, rng: random.Random, size: int) -> Any:
    w = rng.randint(min(WINDOW_MIN, len(e)), size)
    if len(e) <= w:
        return e
    s = rng.randrange(len(e) - w + 1)
    return e[s:s + w]


def train_reader(stories: Sequence[Any], settings: TrainSettings, log: Callable[[str], None] = print) -> Any:
    """The trained network: each step, ``batch_size`` windows of training stories (``stories``: embedding
    matrices) each against one copy corrupted by a kind drawn uniformly, pairwise logistic loss
    softplus(score(copy) - score(original))."""
    import numpy as np
    import torch

    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    cfg = settings.config
    pool = [e for e in stories if len(e) >= MIN_TRAIN_SENTENCES]
    if not pool:
        raise ValueError(f"no training story has {MIN_TRAIN_SENTENCES} sentences")
    foreign = np.concatenate(pool)
    net = build_head(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=settings.steps, pct_start=0.1)
    t0 = time.perf_counter()
    net.train()
    for step in range(settings.steps):
        origs, negs = [], []
        for _ in range(settings.batch_size):
            e = _window(rng.choice(pool), rng, cfg.max_sentences)
            k = rng.choice(settings.kinds)
            c = corrupt(list(e), k, rng, [foreign[rng.randrange(len(foreign))]])
            origs.append(e)
            negs.append(np.stack(c[:cfg.max_sentences]))
        x, pad = batch(origs + negs, cfg.max_sentences)
        s = net(x, pad)
        loss = torch.nn.functional.softplus(s[settings.batch_size:] - s[:settings.batch_size]).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 500 == 0 or step == settings.steps - 1:
            log(f"step {step}: loss {loss.item():.4f} ({time.perf_counter() - t0:.0f} s)")
    net.eval()
    return net


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


def save(net: Any, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(path))
