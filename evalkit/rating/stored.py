"""A run's stored records (scores, summary, anchors.json) -> rating.json. Nothing here scores text."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.anchors import DEFAULT_KINDS
from evalkit.rating.config import RatingConfig
from evalkit.rating.table import RatingInput, rate
from evalkit.records import RATING_SCHEMA


def rate_stored(manifest: Any, load_scores: Callable[[list[str]], Sequence[Any]], summary: Mapping[str, Any],
                path: Path, rules: Callable[[dict[str, Any] | None], RatingConfig], anchor_scores: Any,
                suite_note: str | None,
                extra_rows: Callable[[RatingConfig], Sequence[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Rate a scored run from its stored records (pure numbers: no scorer, no model) and write rating.json
    atomically to ``path``. Anchors come from the stored anchors.json record, else from an earlier rating
    of the same run and suite version (a run whose suite is gone); ``created`` of that rating is kept,
    so a rerun writes identical bytes. ``extra_rows`` builds rows shown after the eight (the Judge
    preference row) under the same rules; they never enter Overall Quality."""
    from evalkit.anchors import anchor_entries
    from evalkit.measure import device_line
    from evalkit.records import Rating, utcnow, write_json
    from evalkit.scoring import measurements

    problems: list[str] = []
    per_story: dict[str, dict[str, dict[str, float | None]]] = {}
    for rec in load_scores(problems):  # the last record of a (model, item) wins
        per_story.setdefault(rec.model, {})[rec.item_id] = rec.scores
    previous = _previous_rating(path, manifest)
    cfg = rules(previous)
    labels = [m.label for m in manifest.models]
    needed = sorted({m for m in cfg.quality.values()
                     if any(v.get(m) is not None for lab in labels for v in per_story.get(lab, {}).values())})
    info = _metric_info(summary, needed)
    kinds = {m: tuple(cfg.anchors.get(m, DEFAULT_KINDS)) for m in needed}
    anchors = anchor_entries(anchor_scores, kinds) if anchor_scores is not None else {}
    anchors = _fill_anchors(anchors, kinds, previous, suite_note if anchor_scores is None else None)
    meas = summary.get("measurements") or {m.label: measurements(m) for m in manifest.models}
    meta = {"run_id": manifest.run_id, "suite": manifest.suite.name, "split": manifest.suite.split,
            "created": (previous or {}).get("created") or utcnow(), "device": device_line(manifest.hardware),
            "suite_hash": manifest.suite.hash, "n_items": len(manifest.suite.item_ids)}
    inp = RatingInput(labels, list(manifest.suite.item_ids), per_story, meas, anchors, info, meta)
    rating = rate(inp, cfg)
    if extra_rows is not None:
        rating["rows"].extend(extra_rows(cfg))
    if problems:
        rating["problems"] = problems
    write_json(path, Rating.model_validate(rating))
    return rating


def _previous_rating(path: Path, manifest: Any) -> dict[str, Any] | None:
    import json

    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (isinstance(old, dict) and old.get("schema") == RATING_SCHEMA and old.get("run_id") == manifest.run_id
            and old.get("suite_hash") == manifest.suite.hash and old.get("split") == manifest.suite.split)
    return old if same else None


def _metric_info(summary: Mapping[str, Any], needed: Sequence[str]) -> dict[str, dict[str, Any]]:
    """summary.json's metric table, completed from the scorer classes for metrics it lacks."""
    from evalkit.scoring import SPEED_METRICS, _scorer_entry_points

    def row(m: Any) -> dict[str, Any]:
        return {"direction": m.direction, "low": m.low, "high": m.high, "description": m.description}

    info = {m.name: row(m) for m in SPEED_METRICS}
    info.update(summary.get("metrics") or {})
    if set(needed) - set(info):
        for ep in _scorer_entry_points().values():
            try:
                info.update({m.name: row(m) for m in ep.load().metrics if m.name not in info})
            except Exception:  # a scorer not installed or not written yet: its rows stay n/a
                continue
    return info


def _fill_anchors(anchors: dict[str, dict[str, Any]], kinds: Mapping[str, tuple[str, ...]],
                  previous: dict[str, Any] | None, suite_note: str | None) -> dict[str, dict[str, Any]]:
    """Metrics the stored anchors lack: an earlier rating's anchors built under the same kinds, else n/a."""
    stored = (previous or {}).get("anchors") or {}
    old_kinds = ((previous or {}).get("rules") or {}).get("anchors") or {}
    for m in kinds:
        if m in anchors:
            continue
        if m in stored and stored[m].get("one_star") is not None and tuple(old_kinds.get(m, DEFAULT_KINDS)) == kinds[m]:
            anchors[m] = stored[m]
        elif suite_note:
            anchors[m] = {"one_star": None, "five_star": None, "n": 0,
                          "note": f"{suite_note} and no earlier rating of this run stored anchors"}
        else:
            anchors[m] = {"one_star": None, "five_star": None, "n": 0,
                          "note": f"no installed scorer scored {m} on the reference stories"}
    return {m: anchors[m] for m in sorted(anchors)}
