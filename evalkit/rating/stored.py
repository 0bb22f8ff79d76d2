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
                suite_note: str | None, suite: Any = None,
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
    by_sample: dict[str, dict[str, dict[int, dict[str, float | None]]]] = {}
    for rec in load_scores(problems):  # the last record of a (model, item, sample) wins
        by_sample.setdefault(rec.model, {}).setdefault(rec.item_id, {})[rec.sample] = rec.scores
    per_story: dict[str, dict[str, Any]] = {
        m: {i: [got[k] for k in sorted(got)] for i, got in items.items()} for m, items in by_sample.items()}
    previous = _previous_rating(path, manifest)
    cfg = rules(previous)
    labels = [m.label for m in manifest.models]
    needed = sorted({m for m in cfg.quality.values()
                     if any(v.get(m) is not None for lab in labels for vs in per_story.get(lab, {}).values() for v in vs)})
    info = _metric_info(summary, needed)
    kinds = {m: tuple(cfg.anchors.get(m, DEFAULT_KINDS)) for m in needed}
    anchors = anchor_entries(anchor_scores, kinds) if anchor_scores is not None else {}
    anchors = _fill_anchors(anchors, kinds, previous, suite_note if anchor_scores is None else None)
    meas = summary.get("measurements") or {m.label: measurements(m) for m in manifest.models}
    meta = {"run_id": manifest.run_id, "suite": manifest.suite.name, "split": manifest.suite.split,
            "created": (previous or {}).get("created") or utcnow(), "device": device_line(manifest.hardware),
            "suite_hash": manifest.suite.hash, "n_items": len(manifest.suite.item_ids)}
    checks = _reference_checks(anchor_scores, kinds, info, cfg)
    inp = RatingInput(labels, list(manifest.suite.item_ids), per_story, meas, anchors, info, meta, checks,
                      _calibrations(needed, suite))
    rating = rate(inp, cfg)
    if extra_rows is not None:
        rating["rows"].extend(extra_rows(cfg))
    if problems:
        rating["problems"] = problems
    record = Rating.model_validate(rating)
    write_json(path, record)
    return record.model_dump(mode="json", by_alias=True)  # what the file says (absent keys left out)


def _reference_checks(record: Any, kinds: Mapping[str, tuple[str, ...]], info: Mapping[str, Any],
                      cfg: RatingConfig) -> dict[str, dict[str, Any]]:
    """metric -> do the references beat their degenerate copies (paired over items)? Metrics whose
    anchors were stored without per-item values are left out (not checked)."""
    from evalkit.anchors import reference_check

    if record is None:
        return {}
    out = {}
    for m, ks in kinds.items():
        got = reference_check(record, m, ks, (info.get(m) or {}).get("direction") or "higher", cfg.confidence,
                              cfg.bootstrap_resamples, cfg.bootstrap_seed)
        if got is not None:
            out[m] = got
    return out


def _calibrations(metrics: Sequence[str], suite: Any) -> dict[str, dict[str, Any]]:
    """metric -> what its per-story stars came from (for the report); the genre formula needs no file."""
    from evalkit.calibration import GENRE_FULL, GENRE_METRIC, star_maps

    out = {m: sm.about for m, sm in star_maps(metrics, suite).items()}
    if GENRE_METRIC in metrics:
        out[GENRE_METRIC] = {"name": "genre probability", "note": "the genre scorer's calibrated probability",
                             "formula": f"1 + 4·clip((p − 1/K) / ({GENRE_FULL} − 1/K), 0, 1), K = number of genres"}
    return out


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
