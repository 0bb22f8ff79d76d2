"""One leaderboard across the runs of a results folder, built from each run's rating.json.

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

from evalkit.errors import RecordError
from evalkit.history import scan_runs
from evalkit.records import RATING_SCHEMA, read_json

OVERALL = "Overall Quality"


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
    delta_significant: bool | None = None  # the change against previous_run, by evalkit.power.clustered_test
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


def _load_rating(path: Path, run_id: str) -> dict[str, Any]:
    data = read_json(path / "rating.json")
    if not isinstance(data, dict) or data.get("schema") != RATING_SCHEMA:
        raise RecordError(f"rating.json: not an evalkit rating (schema {RATING_SCHEMA})")
    if data.get("run_id") != run_id:
        raise RecordError(f"rating.json belongs to run {data.get('run_id')!r}")
    rows = data.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("row"), str)
                                             and isinstance(r.get("models"), dict) for r in rows):
        raise RecordError("rating.json: rows are damaged")
    return data


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _overall_items(rating: dict[str, Any], label: str) -> dict[str, list[float | None]] | None:
    row = next((r for r in rating["rows"] if r.get("row") == OVERALL), None) or {}
    got = (row.get("per_item") or {}).get(label) if isinstance(row.get("per_item"), dict) else None
    if not isinstance(got, dict):
        return None
    return {str(i): [_num(v) for v in vs] for i, vs in got.items() if isinstance(vs, list)}


def _test_delta(prev: Entry, cur: Entry) -> None:
    """Is the change of Overall Quality more than noise? The star table's test (evalkit.power), over the
    items both runs rated (runs whose ratings lack per-item values stay untested)."""
    from evalkit.power import clustered_test

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
        for r in rating["rows"]:
            if r["row"] not in group.rows:
                group.rows.append(r["row"])
                group.units[r["row"]] = str(r.get("unit") or "")
        labels = [x for x in rating.get("models", []) if isinstance(x, str)] or run.models
        for label in labels:
            cells = {}
            for r in rating["rows"]:
                c = r["models"].get(label)
                if isinstance(c, dict):
                    cells[r["row"]] = {k: _num(c.get(k)) for k in ("value", "stars", "ci_low", "ci_high")} | \
                        {"note": c.get("note") if isinstance(c.get("note"), str) else None}
            overall = cells.get(OVERALL, {}).get("value")
            entry = Entry(label, run.run_id, run.created or "", str(rating.get("device") or ""), cells, overall)
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
