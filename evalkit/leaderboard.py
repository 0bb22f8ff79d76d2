"""One leaderboard across the runs of a results folder, built from each run's rating.json (read as its
typed record, evalkit.records.Rating).

A row is a model's latest trusted run on a suite and split (or every run with ``all_runs``); the
columns are the seed's star rows, sorted by Overall Quality, with the change of Overall Quality
against the same model's previous run. Output is deterministic: sorted, no clock, same folder in ->
same bytes out. Runs that did not finish, are damaged, or have no rating.json are skipped and
reported through ``warn`` (the leaderboard never rates a run itself: it only reads the store).
Its renderers (md, csv, json, html) live in evalkit/report/leaderboard.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit.errors import RecordError
from evalkit.history import scan_runs
from evalkit.rating.rows import OVERALL as OVERALL_KIND
from evalkit.rating.rows import ROW_RULES
from evalkit.records import RATING_SCHEMA, Rating, random_weights_run, read_json
from evalkit.significance import clustered_test

OVERALL = next(r.label for r in ROW_RULES if r.kind == OVERALL_KIND)  # the row a leaderboard ranks by


# ------------------------------------------------------------------ building

@dataclass
class Entry:
    model: str
    run_id: str
    created: str
    device: str
    cells: dict[str, dict[str, Any]]  # row name -> {value, stars, ci_low, ci_high, note}
    overall: float | None
    previous_run: str | None = None
    delta: float | None = None
    rank: int = 0
    items: dict[str, list[float | None]] | None = None  # Overall Quality per item and sample (rating.json)
    delta_significant: bool | None = None  # the change against previous_run, by evalkit.significance.clustered_test
    delta_mde: float | None = None


@dataclass
class Group:
    suite: str
    split: str
    rows: list[str]  # the seed's rows, in the rating's order
    units: dict[str, str]
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Leaderboard:
    groups: list[Group]
    skipped: list[tuple[str, str]]  # (run folder name, why)
    all_runs: bool = False


def _load_rating(path: Path, run_id: str) -> Rating:
    """The run's rating.json as its typed record (evalkit.records.Rating); anything else is a RecordError."""
    data = read_json(path / "rating.json")
    if not isinstance(data, dict) or data.get("schema") != RATING_SCHEMA:
        raise RecordError(f"rating.json: not an evalkit rating (schema {RATING_SCHEMA})")
    if data.get("run_id") != run_id:
        raise RecordError(f"rating.json belongs to run {data.get('run_id')!r}")
    try:
        return Rating.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(map(str, err["loc"]))
        raise RecordError(f"rating.json: damaged rating ({e.error_count()} problem(s); first: {where}: {err['msg']})") from None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _overall_items(rating: Any, label: str) -> dict[str, list[float | None]] | None:
    """The Overall Quality values of one model per suite item (a records.Rating), or None."""
    row = next((r for r in rating.rows if r.row == OVERALL), None)
    got = (row.per_item or {}).get(label) if row is not None else None
    if got is None:
        return None
    return {str(i): [_num(v) for v in vs] for i, vs in got.items()}


def _test_delta(prev: Entry, cur: Entry) -> None:
    """Is the change of Overall Quality more than noise? The star table's test (evalkit.significance), over the
    items both runs rated (runs whose ratings lack per-item values stay untested)."""
    if prev.items is None or cur.items is None:
        return
    t = clustered_test(cur.run_id, prev.run_id, cur.items, prev.items)
    if t is not None:
        cur.delta_significant, cur.delta_mde = t.significant, t.mde


def build(results_dir: str | Path, all_runs: bool = False, warn: Callable[[str], None] | None = None) -> Leaderboard:
    skipped: list[tuple[str, str]] = []
    per_model: dict[tuple[str, str, str], list[Entry]] = {}
    groups: dict[tuple[str, str], Group] = {}
    for run in scan_runs(results_dir):
        name = run.path.name
        if run.state != "complete":
            skipped.append((name, f"{run.state}: {'; '.join(run.problems) or run.status}"))
            continue
        if run.manifest is not None and random_weights_run(run.manifest):
            skipped.append((name, "random weights: speed and memory only, no stories (its report's Capacity section)"))
            continue
        if not (run.path / "rating.json").exists():
            skipped.append((name, "no rating.json yet (rebuild it with `evalkit report`)"))
            continue
        try:
            rating = _load_rating(run.path, run.run_id)
        except RecordError as e:
            skipped.append((name, str(e).replace(str(run.path) + "/", "")))
            continue
        key = (str(run.suite), str(run.split))
        group = groups.setdefault(key, Group(key[0], key[1], [], {}))
        for r in rating.rows:
            if r.row not in group.rows:
                group.rows.append(r.row)
                group.units[r.row] = r.unit
        for label in rating.models or run.models:
            cells = {}
            for r in rating.rows:
                c = r.models.get(label)
                if c is not None:
                    cells[r.row] = {"value": _num(c.value), "stars": _num(c.stars), "ci_low": _num(c.ci_low),
                                    "ci_high": _num(c.ci_high), "note": c.note}
            overall = cells.get(OVERALL, {}).get("value")
            entry = Entry(label, run.run_id, run.created or "", rating.device, cells, overall)
            entry.items = _overall_items(rating, label)
            per_model.setdefault((*key, label), []).append(entry)
    for (suite, split, _), entries in sorted(per_model.items()):
        entries.sort(key=lambda e: (e.created, e.run_id))
        for prev, cur in zip(entries, entries[1:]):
            cur.previous_run = prev.run_id
            if cur.overall is not None and prev.overall is not None:
                cur.delta = cur.overall - prev.overall
                _test_delta(prev, cur)
        groups[(suite, split)].entries.extend(entries if all_runs else entries[-1:])
    for g in groups.values():
        g.entries.sort(key=lambda e: (e.overall is None, -(e.overall or 0.0), e.model, e.created, e.run_id))
        for n, e in enumerate(g.entries, 1):
            e.rank = n
    if warn:
        for name, why in skipped:
            warn(f"skipped run {name}: {why}")
    return Leaderboard([groups[k] for k in sorted(groups)], skipped, all_runs)
