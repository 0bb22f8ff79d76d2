"""The scorer seam: a Scorer turns one model's stories into named per-story numbers.

Scorers register under the entry-point group ``evalkit.scorers``. A scorer sees all stories of one
model at once, so corpus scorers (self-BLEU, distinct-n across stories) use the same call; it still
returns one dict per story (the same order), so every metric can be aggregated and bootstrapped per
story. ``None`` marks a story the metric cannot score (empty text, too short...); the reason goes
into ``StoryScores.notes``. A scorer never raises for bad text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from evalkit.suites import Character, Suite, SuiteItem

Direction = Literal["higher", "lower", "target", "none"]


@dataclass(frozen=True)
class Metric:
    """A named number a scorer produces. ``direction`` says which way is better ("target": closer
    to a band from the suite is better; "none": descriptive only)."""

    name: str
    direction: Direction
    low: float | None = None  # documented range, None = unbounded
    high: float | None = None
    description: str = ""


@dataclass(frozen=True)
class StoryInput:
    """A story to score and what is known about what it was asked to be."""

    text: str
    id: str = ""
    prompt: str = ""
    genre: str | None = None
    characters: tuple[Character, ...] = ()
    reference: str | None = None  # a human story for the same prompt, when known

    @classmethod
    def from_item(cls, item: SuiteItem, text: str) -> StoryInput:
        return cls(text=text, id=item.id, prompt=item.prompt, genre=item.genre,
                   characters=item.characters, reference=item.story)


@dataclass
class StoryScores:
    values: dict[str, float | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


class ScoringContext:
    """What scorers share within one scoring pass: the suite, the device, and one embedding cache
    so that every scorer needing MiniLM embeddings reuses one batched pass."""

    def __init__(self, suite: Suite | None = None, device: str | None = None, options: dict[str, Any] | None = None):
        self.suite = suite
        self.device = device
        self.options = options or {}
        self.shared: dict[str, Any] = {}  # lazily built resources (embedder, classifiers...) keyed by name
        self._embeddings: dict[str, Any] = {}

    def embed(self, texts: Sequence[str]):
        """MiniLM-L6 sentence embeddings (normalised, numpy float32), cached per text."""
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self._embeddings]
        if missing:
            from evalkit.scorers.embeddings import load_embedder

            model = self.shared.get("embedder") or load_embedder(self.device)
            self.shared["embedder"] = model
            vecs = model.encode(list(missing), batch_size=64, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
            for t, v in zip(missing, vecs):
                self._embeddings[t] = v.astype(np.float32)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._embeddings[t] for t in texts])


class Scorer(ABC):
    """One family of metrics. Subclasses set ``name`` and ``metrics`` and implement ``score``.

    ``version`` names the scorer's numbers for the score cache (evalkit/score_cache.py): change it
    whenever the same story would get different numbers. ``corpus`` is True for scorers whose number
    for a story depends on the other stories scored with it (self-BLEU, distinct-n across stories);
    the cache then keys each story by that whole set too.
    """

    name: ClassVar[str]
    metrics: ClassVar[tuple[Metric, ...]]
    version: ClassVar[str] = "1"
    corpus: ClassVar[bool] = False
    fitted_on: ClassVar[str | None] = None  # ratings file its weights were fitted on (validate labels it in-sample)
    derived: ClassVar[tuple[str, ...]] = ()  # metrics ``derive`` computes from the others (never fitted on)

    def derive(self, values: dict[str, float | None], notes: dict[str, str], context: ScoringContext | None = None) -> None:
        """Recompute, in place, the numbers that are a cheap function of the others (a weighted mix of
        parts). The cache stores measured parts under ``version`` and calls this on every hit, so new
        weights need no rescoring; ``context`` is the scoring context (which LM measured the parts).
        Default: nothing is derived."""

    def cache_identity(self, context: ScoringContext) -> str:
        """What, besides the story, decides this scorer's numbers in ``context`` (for the cache key).
        Scorers that read models or options chosen at run time override it to name them."""
        return self.version

    @abstractmethod
    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        """One StoryScores per story, in order. Must not raise for any text."""
