"""Per-story metric values cached on disk, so refitting a calibration (or any check over rated
stories) reruns only the scorers whose code changed.

One JSON file per scorer, named by the scorer, a fingerprint of its source and the suite it scored
against; inside, values keyed by ``<group hash>/<story hash>``. Stories are scored group by group (one
system's stories at once, as ``evalkit score`` does), since corpus scorers (creativity's diversity)
read the other stories of the group; the group hash makes a story's value depend on its group too.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.records import stable_hash

CACHE_DIR = Path("results") / ".cache" / "scores"
# scorers whose value for a story depends on the other stories scored with it (diversity across a
# model's stories); every other scorer's values are keyed by the story alone
GROUP_DEPENDENT = frozenset({"creativity"})


def story_hash(text: str, prompt: str = "") -> str:
    return stable_hash([text, prompt])


def scorer_fingerprint(scorer: Any) -> str:
    """sha256 of the scorer's module source with the shared text helpers: edit the scorer, miss the cache."""
    from evalkit.scorers import base, text

    h = hashlib.sha256()
    for mod in (inspect.getmodule(type(scorer)), text, base):
        src = inspect.getsourcefile(mod) if mod is not None else None
        if src:
            h.update(Path(src).read_bytes())
    return h.hexdigest()[:12]


def score_groups_cached(groups: Mapping[str, Sequence[Any]], scorers: Sequence[Any], context: Any,
                        cache_dir: str | Path = CACHE_DIR, log: Any = None) -> dict[str, dict[str, dict[str, float | None]]]:
    """Score each group's StoryInputs with each scorer, reading and filling the cache.

    Returns {group: {story hash: {metric: value}}}. Only stories missing from a scorer's cache file are
    scored (a group-dependent scorer scores the whole group again); the file is rewritten after each group."""
    from evalkit.records import read_json, write_json
    from evalkit.scoring import score_stories

    cache_dir = Path(cache_dir)
    suite_hash = getattr(getattr(context, "suite", None), "hash", "") or "nosuite"
    hashes = {g: [story_hash(s.text, s.prompt) for s in stories] for g, stories in groups.items()}
    gkeys = {g: stable_hash(sorted(h)) for g, h in hashes.items()}
    out: dict[str, dict[str, dict[str, float | None]]] = {g: {h: {} for h in hs} for g, hs in hashes.items()}
    for scorer in scorers:
        path = cache_dir / f"{scorer.name}-{scorer_fingerprint(scorer)}-{suite_hash}.json"
        cached: dict[str, dict[str, float | None]] = read_json(path) if path.is_file() else {}
        for g, stories in groups.items():
            keys = [f"{gkeys[g]}/{h}" if scorer.name in GROUP_DEPENDENT else h for h in hashes[g]]
            todo = [n for n, k in enumerate(keys) if k not in cached]
            if todo and scorer.name in GROUP_DEPENDENT:
                todo = list(range(len(keys)))  # the whole group, together
            if todo:
                if log:
                    log(f"scoring {len(todo)} stories of {g} with {scorer.name}")
                results = score_stories([stories[n] for n in todo], [scorer], context)
                cached.update({keys[n]: r.values for n, r in zip(todo, results)})
                write_json(path, cached)
            for h, k in zip(hashes[g], keys):
                out[g][h].update(cached[k])
    return out
