"""Corrupted copies of a story, the negatives the order reader is trained to rank below the original.

Each corruption works on a list of items (sentences, or their embeddings: the trainer permutes rows of
embeddings it computed once) and never returns the original order unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

MIN_SENTENCES = 3  # fewer sentences leave too little order to corrupt


def _permuted(items: Sequence[T], order: list[int]) -> list[T]:
    return [items[i] for i in order]


def shuffle(items: Sequence[T], rng: random.Random, foreign: Sequence[T] = ()) -> list[T]:
    """Every sentence in a random place (any permutation but the identity)."""
    order = list(range(len(items)))
    while order == sorted(order):
        rng.shuffle(order)
    return _permuted(items, order)


def block_shuffle(items: Sequence[T], rng: random.Random, foreign: Sequence[T] = ()) -> list[T]:
    """The story cut into 2-4 runs of consecutive sentences, the runs reordered (each run reads well inside)."""
    n = len(items)
    k = rng.randint(2, min(4, n))
    cuts = sorted(rng.sample(range(1, n), k - 1))
    blocks = [list(range(a, b)) for a, b in zip([0, *cuts], [*cuts, n])]
    order = list(range(k))
    while order == sorted(order):
        rng.shuffle(order)
    return _permuted(items, [i for b in order for i in blocks[b]])


def adjacent_swap(items: Sequence[T], rng: random.Random, foreign: Sequence[T] = ()) -> list[T]:
    """Two neighbouring sentences traded: the smallest change of order."""
    i = rng.randrange(len(items) - 1)
    order = list(range(len(items)))
    order[i], order[i + 1] = order[i + 1], order[i]
    return _permuted(items, order)


def insert_foreign(items: Sequence[T], rng: random.Random, foreign: Sequence[T] = ()) -> list[T]:
    """A sentence from another story put somewhere inside this one."""
    out = list(items)
    out.insert(rng.randint(1, len(out) - 1), rng.choice(foreign))
    return out


def drop(items: Sequence[T], rng: random.Random, foreign: Sequence[T] = ()) -> list[T]:
    """One inner sentence left out (the story keeps its opening and its end, with a gap)."""
    out = list(items)
    del out[rng.randint(1, len(out) - 2)]
    return out


def repeat(items: Sequence[T], rng: random.Random, foreign: Sequence[T] = ()) -> list[T]:
    """One sentence said again further on (the start of a loop)."""
    i = rng.randrange(len(items) - 1)
    out = list(items)
    out.insert(rng.randint(i + 1, len(out)), items[i])
    return out


KINDS: dict[str, Callable[..., list]] = {
    "shuffle": shuffle,
    "block_shuffle": block_shuffle,
    "adjacent_swap": adjacent_swap,
    "insert_foreign": insert_foreign,
    "drop": drop,
    "repeat": repeat,
}


def corrupt(items: Sequence[T], kind: str, rng: random.Random, foreign: Sequence[T] = ()) -> list[T]:
    """``items`` corrupted by ``kind`` (a key of KINDS); ``foreign``: sentences of other stories
    (insert_foreign needs at least one). Needs MIN_SENTENCES items."""
    if len(items) < MIN_SENTENCES:
        raise ValueError(f"a corruption needs at least {MIN_SENTENCES} sentences, got {len(items)}")
    if kind == "insert_foreign" and not foreign:
        raise ValueError("insert_foreign needs sentences from another story")
    return KINDS[kind](items, rng, foreign)
