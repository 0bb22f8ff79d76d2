"""A score cache: a story scored once by a scorer version is never scored again.

``scoring.cached_score_stories`` has the contract of ``scoring.score_stories`` (one StoryScores per story,
in order; a failing scorer marks its metrics not scorable) and looks every (scorer, story) up here first.
The key of one scorer's numbers for one story is the hash of:

- the scorer's name and ``cache_identity`` (its ``version``, plus the LM or options it reads);
  numbers a scorer derives cheaply from its parts (a weighted mix) are recomputed by
  ``Scorer.derive`` on every hit, so shipping new weights does not rescore anything;
- the story text;
- what the story was asked to be (prompt, genre, characters, reference) and the suite's hash;
- for corpus scorers (``Scorer.corpus``: self-BLEU, distinct-n across stories), the set of texts
  scored together, since a story's number depends on its neighbours.

Entries are appended to ``<cache_dir>/<scorer>.jsonl`` with ``records.append_new`` (locked,
fsync'd, one line per story, none whose key the file already holds), so a killed run keeps every
story scored before the kill and two runs scoring the same stories at once store each entry once.
Results where every metric is null are stored only when every note says the text itself is not
scorable (too short, empty): a scorer that failed or an LM that could not load is retried next time.
Each entry carries a checksum of its numbers: a line that is torn, foreign (another scorer's, not an
entry) or edited by hand is skipped with one warning line naming file:line, its story is scored again,
and the file is rewritten without it (``records.read_cache``). Entries of an older scorer version
have another key: they are never read, and stay harmless.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from evalkit.records import Record, append_new, read_cache, stable_hash
from evalkit.scorers.base import Scorer, ScoringContext, StoryInput, StoryScores

CACHE_SCHEMA = "evalkit.score-cache/1"
DEFAULT_SUBDIR = Path(".cache") / "scores"  # under a results folder


class CachedScore(Record):
    """One scorer's numbers for one story, as stored in the score cache."""

    schema_: str = Field(CACHE_SCHEMA, alias="schema", description="record format")
    key: str = Field(description="sha256 of scorer identity, story text, story context and (corpus scorers) the story set")
    scorer: str = Field(description="scorer name")
    identity: str = Field(description="the scorer's cache identity (version, LM) when scored")
    values: dict[str, float | None] = Field(description="metric -> number; null = not scorable")
    notes: dict[str, str] = Field(default_factory=dict, description="metric -> why it is null, or what it used")
    check: str | None = Field(None, description="digest of key, values and notes (absent in entries of older evalkit)")

    def digest(self) -> str:
        return stable_hash({"key": self.key, "values": self.values, "notes": self.notes})


def entry(key: str, scorer: str, identity: str, r: StoryScores) -> CachedScore:
    e = CachedScore(key=key, scorer=scorer, identity=identity, values=r.values, notes=r.notes)
    e.check = e.digest()
    return e


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def context_hash(story: StoryInput, context: ScoringContext) -> str:
    """What the story was asked to be, and the suite it was scored against."""
    suite = context.suite
    blob = {
        "prompt": story.prompt,
        "genre": story.genre,
        "characters": [[c.name, getattr(c, "description", "")] for c in story.characters],
        "reference": story.reference,
        "suite": getattr(suite, "hash", None) if suite is not None else None,
    }
    return text_hash(json.dumps(blob, sort_keys=True, ensure_ascii=False, default=str))


def corpus_hash(stories: Sequence[StoryInput]) -> str:
    """The set of texts scored together (order-free)."""
    return text_hash("\n".join(sorted(text_hash(s.text) for s in stories)))


def story_keys(scorer: Scorer, stories: Sequence[StoryInput], context: ScoringContext) -> list[str]:
    identity = scorer.cache_identity(context)
    corpus = corpus_hash(stories) if scorer.corpus else ""
    return [text_hash("\x1f".join((scorer.name, identity, text_hash(s.text), context_hash(s, context), corpus)))
            for s in stories]


_TRANSIENT = re.compile(r"fail|unavailable|error|exception|could not|cannot|timed? ?out", re.IGNORECASE)


def storable(r: StoryScores) -> bool:
    """A result worth keeping: a number, or only "not scorable" verdicts on the text (a story too short
    is as short next time); never a failure to run, which may not happen next time."""
    if any(v is not None for v in r.values.values()):
        return True
    notes = [r.notes.get(k, "") for k in r.values]
    return bool(notes) and all(n.startswith("not scorable") and not _TRANSIENT.search(n) for n in notes)


class ScoreCache:
    """The entries of one cache folder, read once per scorer and kept in memory."""

    def __init__(self, cache_dir: str | Path):
        self.dir = Path(cache_dir)
        self._loaded: dict[str, dict[str, CachedScore]] = {}
        self.unwritable = False

    def path(self, scorer: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in scorer)
        return self.dir / f"{safe}.jsonl"

    def entries(self, scorer: str) -> dict[str, CachedScore]:
        if scorer not in self._loaded:
            def refuse(e: CachedScore) -> str | None:
                if e.scorer != scorer:
                    return f"an entry of scorer {e.scorer!r}"
                if e.check is not None and e.check != e.digest():
                    return "its numbers do not match its checksum: edited by hand"
                return None

            self._loaded[scorer] = {e.key: e for e in read_cache(self.path(scorer), CachedScore, refuse)}
        return self._loaded[scorer]

    def get(self, scorer: str, key: str) -> StoryScores | None:
        e = self.entries(scorer).get(key)
        return None if e is None else StoryScores(dict(e.values), dict(e.notes))

    def put(self, scorer: Scorer, identity: str, items: Sequence[tuple[str, StoryScores]]) -> None:
        fresh = [entry(k, scorer.name, identity, r) for k, r in items if storable(r)]
        self.entries(scorer.name).update({e.key: e for e in fresh})
        if self.unwritable:
            return
        try:
            append_new(self.path(scorer.name), fresh)
        except OSError as e:  # a read-only or full disk costs the cache, never the scores
            self.unwritable = True
            sys.stderr.write(f"warning: cannot store scores in {self.dir} ({e.strerror or e}): "
                             "scoring goes on without storing them\n")
