"""A run's stored records (scores, summary, anchors.json, judge.json) -> its Rating. Numbers only: no
scorer, no model; the pipeline reads the records and writes rating.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.measure import device_line
from evalkit.rating.anchor_levels import anchor_entries, reference_check
from evalkit.rating.config import RatingConfig
from evalkit.rating.table import RatingInput, judge_row, rate
from evalkit.records import (
    DEFAULT_KINDS,
    AnchorScores,
    CapacityRun,
    Manifest,
    Rating,
    ScoreRecord,
    Summary,
    dump_record,
    model_measurements,
    utcnow,
)


@dataclass
class StoredRun:
    """What rating reads of a run, as the pipeline loaded it."""

    manifest: Manifest
    scores: Sequence[ScoreRecord]
    summary: Summary | None
    anchors: AnchorScores | None  # None: the run's suite version is gone and nothing was stored
    metric_info: Mapping[str, Mapping[str, Any]]  # metric -> direction, low, high, description
    calibrations: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # metric -> where its stars come from
    judge: Any = None  # judge.json (evalkit.judge.run.JudgeRun) when the run used a judge
    problems: list[str] = field(default_factory=list)  # damaged score lines skipped
    capacity: CapacityRun | None = None  # capacity.json of a random-weights run (no stories, no scores)


def rate_stored(run: StoredRun, cfg: RatingConfig, previous: Rating | None = None,
                suite_note: str | None = None) -> Rating:
    """The run's rating. Anchors come from the stored anchors.json record, else from ``previous`` (an
    earlier rating of the same run and suite version, for a run whose suite is gone; ``suite_note`` says
    why); ``created`` of ``previous`` is kept, so a rerun writes identical bytes. With a judge and two or
    more models the Judge preference row follows the eight, under the same rules; it never enters
    Overall Quality."""
    manifest = run.manifest
    by_sample: dict[str, dict[str, dict[int, dict[str, float | None]]]] = {}
    for rec in run.scores:  # the last record of a (model, item, sample) wins
        by_sample.setdefault(rec.model, {}).setdefault(rec.item_id, {})[rec.sample] = rec.scores
    per_story: dict[str, dict[str, Any]] = {
        m: {i: [got[k] for k in sorted(got)] for i, got in items.items()} for m, items in by_sample.items()}
    labels = [m.label for m in manifest.models]
    needed = sorted({m for m in cfg.quality.values()
                     if any(v.get(m) is not None for lab in labels for vs in per_story.get(lab, {}).values() for v in vs)})
    info = {k: dict(v) for k, v in run.metric_info.items()}
    kinds = {m: tuple(cfg.anchors.get(m, DEFAULT_KINDS)) for m in needed}
    anchors = anchor_entries(run.anchors, kinds) if run.anchors is not None else {}
    anchors = _fill_anchors(anchors, kinds, previous, suite_note if run.anchors is None else None)
    meas = ({k: dump_record(v) for k, v in run.summary.measurements.items()} if run.summary is not None
            else {m.label: dump_record(model_measurements(m)) for m in manifest.models})
    if run.capacity is not None:  # random weights: speed, memory and training time from the capacity record
        meas = {label: run.capacity.measurements(label) for label in labels}
    meta = {"run_id": manifest.run_id, "suite": manifest.suite.name, "split": manifest.suite.split,
            "created": previous.created if previous is not None else utcnow(),
            "device": device_line(manifest.hardware), "suite_hash": manifest.suite.hash,
            "n_items": len(manifest.suite.item_ids)}
    checks = _reference_checks(run.anchors, kinds, info, cfg)
    inp = RatingInput(labels, list(manifest.suite.item_ids), per_story, meas, anchors, info, meta, checks,
                      {m: dict(v) for m, v in run.calibrations.items() if m in needed})
    rating = rate(inp, cfg)
    if run.judge is not None and len(labels) >= 2:
        j = run.judge
        note = (f"judge {j.judge.label} on {j.criterion}, each item in both orders (a tie counts half); "
                "no stars and not part of Overall Quality"
                + (f"; {j.consistency.missing} judge answers missing" if j.consistency.missing else ""))
        rating["rows"].append(judge_row(j.preferences, labels, cfg, note))
    if run.problems:
        rating["problems"] = list(run.problems)
    return Rating.model_validate(rating)


def _reference_checks(record: AnchorScores | None, kinds: Mapping[str, tuple[str, ...]], info: Mapping[str, Any],
                      cfg: RatingConfig) -> dict[str, dict[str, Any]]:
    """metric -> do the references beat their degenerate copies (paired over items)? Metrics whose
    anchors were stored without per-item values are left out (not checked)."""
    if record is None:
        return {}
    out = {}
    for m, ks in kinds.items():
        got = reference_check(record, m, ks, (info.get(m) or {}).get("direction") or "higher", cfg.confidence,
                              cfg.bootstrap_resamples, cfg.bootstrap_seed)
        if got is not None:
            out[m] = got
    return out


def _fill_anchors(anchors: dict[str, dict[str, Any]], kinds: Mapping[str, tuple[str, ...]],
                  previous: Rating | None, suite_note: str | None) -> dict[str, dict[str, Any]]:
    """Metrics the stored anchors lack: an earlier rating's anchors built under the same kinds, else n/a."""
    stored = {m: dump_record(a) for m, a in previous.anchors.items()} if previous is not None else {}
    old_kinds = (previous.rules.get("anchors") or {}) if previous is not None else {}
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
