"""Stories produced anywhere, read from JSONL and scored (the library behind `evalkit score`, also used
by validation): one JSON object a line with ``story`` and, where known, ``id``, ``prompt``, ``genre``,
``characters``, ``reference`` and ``model``; with a suite, an ``id`` naming a suite item fills the rest."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evalkit.calibration import add_story_stars
from evalkit.errors import EvalkitError
from evalkit.records import json_object_lines
from evalkit.scorers.base import Scorer, ScoringContext, StoryInput
from evalkit.scorers.evaluate_adapter import EvaluateScorer
from evalkit.score_cache import ScoreCache
from evalkit.scoring import cached_score_stories, load_scorers, story_star_maps
from evalkit.suites import Character, Suite

KNOWN_KEYS = ("story", "id", "prompt", "genre", "characters", "reference", "model")


def _characters(value: Any, where: str) -> tuple[Character, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(Character(n.strip()) for n in value.replace(";", ",").split(",") if n.strip())
    if not isinstance(value, list):
        raise ValueError(f"{where}: 'characters' must be a list of names or {{name, description}} objects")
    out = []
    for c in value:
        if isinstance(c, str) and c.strip():
            out.append(Character(c.strip()))
        elif isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"].strip():
            out.append(Character(c["name"].strip(), str(c.get("description", ""))))
        else:
            raise ValueError(f"{where}: each character must be a name or an object with a non-empty 'name'")
    return tuple(out)


def read_stories(path: str | Path, suite: Suite | None = None) -> list[tuple[str, StoryInput]]:
    """(model group, StoryInput) per line; every bad line is reported as file:line, then EvalkitError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise EvalkitError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EvalkitError(f"{path}: is a folder, expected a JSONL file of stories") from None

    items = {i.id: i for i in suite.items} if suite is not None else {}
    problems: list[str] = []
    out: list[tuple[str, StoryInput]] = []
    for n, where, obj in json_object_lines(raw, path, problems, "a JSON object with a 'story'"):
        if not isinstance(obj.get("story"), str):
            problems.append(f"{where}: 'story' is missing or not a string")
            continue
        try:
            out.append(_story(obj, n, where, items))
        except ValueError as e:
            problems.append(str(e))
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise EvalkitError(f"{len(problems)} bad line(s): " + "; ".join(problems[:5]) + more)
    if not out:
        raise EvalkitError(f"{path}: no stories (expected one JSON object a line with a 'story')")
    return out


def _story(obj: dict, n: int, where: str, items: dict) -> tuple[str, StoryInput]:
    for key in ("prompt", "genre", "reference", "model"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise ValueError(f"{where}: {key!r} must be a string")
    sid = obj.get("id", f"line{n}")
    if not isinstance(sid, (str, int)) or isinstance(sid, bool):
        raise ValueError(f"{where}: 'id' must be a string or an integer")
    sid = str(sid)
    item = items.get(sid)
    chars = _characters(obj.get("characters"), where)
    story = StoryInput(
        text=obj["story"],
        id=sid,
        prompt=obj.get("prompt") or (item.prompt if item else ""),
        genre=obj.get("genre") or (item.genre if item else None),
        characters=chars or (item.characters if item else ()),
        reference=obj.get("reference") or (item.story if item else None),
    )
    return obj.get("model") or "", story


def make_scorers(names: Sequence[str] | None) -> list[Scorer]:
    """Entry-point scorers by name, plus ``evaluate:PATH`` for a local evaluate metric module."""
    names = list(names or [])
    plain = [n for n in names if not n.startswith("evaluate:")]
    scorers = load_scorers(plain) if plain or not names else []  # none named: the default set (no opt-in judge)
    for n in names:
        if n.startswith("evaluate:"):
            scorers.append(EvaluateScorer(n.split(":", 1)[1]))
    return scorers


def score_file(path: str | Path, suite: Suite | None, scorers: Sequence[Scorer],
               context: ScoringContext | None = None) -> list[dict[str, Any]]:
    """Score every story of a JSONL file; one flat dict per story, in input order."""
    return score_rows(read_stories(path, suite), scorers, context or ScoringContext(suite=suite))


def score_rows(rows: Sequence[tuple[str, StoryInput]], scorers: Sequence[Scorer], context: ScoringContext,
               progress: Callable[[int], None] | None = None, cache: ScoreCache | None = None) -> list[dict[str, Any]]:
    """Score ``read_stories`` rows (each model group together); ``progress(n)`` hears of n more done;
    ``cache``: the score cache to read and store through (None: score everything)."""
    out: list[dict[str, Any] | None] = [None] * len(rows)
    groups: dict[str, list[int]] = {}
    for i, (group, _) in enumerate(rows):
        groups.setdefault(group, []).append(i)
    maps = None
    for group, idx in groups.items():
        stories = [rows[i][1] for i in idx]
        results = cached_score_stories(stories, scorers, context, cache, progress)
        if maps is None:
            maps = story_star_maps(scorers, context, context.suite)
        values = [dict(r.values) for r in results]
        add_story_stars(values, maps)  # <metric>_stars: the calibrated stars of each story
        for i, r, v in zip(idx, results, values):
            line: dict[str, Any] = {"id": rows[i][1].id}
            if group:
                line["model"] = group
            line.update(v)
            line["notes"] = r.notes
            out[i] = line
    return [o for o in out if o is not None]


def load_scorer_specs(names: Sequence[str] | None):
    """Entry-point scorers by name (and evaluate:PATH), plus MODULE:CLASS for a scorer class on the path."""
    names = list(names or [])
    plain = [n for n in names if ":" not in n or n.startswith("evaluate:")]
    scorers = make_scorers(plain) if plain or not names else []
    for spec in names:
        if ":" in spec and not spec.startswith("evaluate:"):
            module, _, cls = spec.partition(":")
            try:
                scorers.append(getattr(importlib.import_module(module), cls)())
            except (ImportError, AttributeError) as e:
                raise EvalkitError(f"--scorers {spec}: cannot load the scorer class ({type(e).__name__}: {e})") from None
    return scorers
