"""One leaderboard across the runs of a results folder, built from each run's rating.json.

A row is a model's latest trusted run on a suite and split (or every run with ``all_runs``); the
columns are the seed's star rows, sorted by Overall Quality, with the change of Overall Quality
against the same model's previous run. Output is deterministic: sorted, no clock, same folder in ->
same bytes out. Runs that did not finish, are damaged, or have no rating.json are skipped and
reported through ``warn`` (the leaderboard never rates a run itself: it only reads the store).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, RecordError
from evalkit.history import scan_runs
from evalkit.records import read_json

RATING_SCHEMA = "evalkit.rating/1"
LEADERBOARD_SCHEMA = "evalkit.leaderboard/1"
OVERALL = "Overall Quality"
FORMATS = ("md", "csv", "json", "html")


# ------------------------------------------------------------------ formatting helpers

# Escaped with a backslash (CommonMark allows it before any ASCII punctuation). Parentheses, # and !
# need none once [ ] are escaped, and leaving them keeps headers such as "Speed (s/story)" readable.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~&$])")


def md_escape(text: Any) -> str:
    """Untrusted text inside a Markdown table cell: no line breaks, no pipes, no markup, no HTML."""
    s = "" if text is None else str(text)
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", s).strip()
    return _MD_SPECIAL.sub(r"\\\1", s)


def fmt_num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def stars_text(stars: float | None) -> str:
    """★ per whole star and ½ for a half star (1..5 in half steps); empty when not rated."""
    if stars is None:
        return ""
    halves = max(0, min(10, round(float(stars) * 2)))
    return "★" * (halves // 2) + ("½" if halves % 2 else "")


def cell_text(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("value") is None:
        return "n/a"
    st = stars_text(cell.get("stars"))
    return f"{st} {fmt_num(cell['value'])}".strip()


def delta_text(delta: float | None, previous: str | None) -> str:
    if previous is None:
        return "new"
    if delta is None:
        return "n/a"
    if delta > 0:
        return f"▲ +{fmt_num(delta)}"
    if delta < 0:
        return f"▼ -{fmt_num(-delta)}"
    return "= 0"


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
            per_model.setdefault((*key, label), []).append(entry)
    for (suite, split, _), entries in sorted(per_model.items()):
        entries.sort(key=lambda e: (e.created, e.run_id))
        for prev, cur in zip(entries, entries[1:]):
            cur.previous_run = prev.run_id
            if cur.overall is not None and prev.overall is not None:
                cur.delta = cur.overall - prev.overall
        groups[(suite, split)].entries.extend(entries if all_runs else entries[-1:])
    for g in groups.values():
        g.entries.sort(key=lambda e: (e.overall is None, -(e.overall or 0.0), e.model, e.created, e.run_id))
        for n, e in enumerate(g.entries, 1):
            e.rank = n
    if warn:
        for name, why in skipped:
            warn(f"skipped run {name}: {why}")
    return Leaderboard([groups[k] for k in sorted(groups)], skipped, all_runs)


# ------------------------------------------------------------------ rendering

def _units(g: Group) -> str:
    """Units go under the table: the rating's unit texts are whole phrases, too long for a header."""
    parts = [f"{r}: {g.units[r]}" for r in g.rows if g.units.get(r)]
    return "Units: " + "; ".join(parts) + "." if parts else ""


FOOTNOTE = ("Stars: ★ = one star, ½ = half a star (1 to 5), from each run's rating.json; n/a = not measured. "
            "Δ = change of Overall Quality against the same model's previous run on this suite and split.")


def render_md(lb: Leaderboard) -> str:
    out = ["# evalkit leaderboard", ""]
    if not lb.groups:
        out += ["No rated runs yet.", ""]
    for g in lb.groups:
        out += [f"## Suite {md_escape(g.suite)}, split {md_escape(g.split)}", ""]
        head = ["#", "Model", *g.rows, "Δ Overall", "Run", "Date"]
        out.append("| " + " | ".join(md_escape(h) if i else h for i, h in enumerate(head)) + " |")
        out.append("|" + "|".join(["---:", "---"] + [":---:"] * len(g.rows) + [":---:", "---", "---"]) + "|")
        for e in g.entries:
            cells = [str(e.rank), md_escape(e.model), *[md_escape(cell_text(e.cells.get(r))) for r in g.rows],
                     md_escape(delta_text(e.delta, e.previous_run)), md_escape(e.run_id), md_escape(_date(e.created))]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        if _units(g):
            out += [md_escape(_units(g)), ""]
    out += [FOOTNOTE, ""]
    return "\n".join(out)


def _date(stamp: str) -> str:
    return stamp.replace("T", " ")[:16] if stamp else ""


def _flat_rows(lb: Leaderboard) -> tuple[list[str], list[dict[str, Any]]]:
    rows: list[str] = []
    for g in lb.groups:
        rows += [r for r in g.rows if r not in rows]
    records = []
    for g in lb.groups:
        for e in g.entries:
            rec: dict[str, Any] = {"suite": g.suite, "split": g.split, "rank": e.rank, "model": e.model}
            for r in rows:
                c = e.cells.get(r) or {}
                rec[f"{r} stars"] = c.get("stars")
                rec[f"{r} value"] = c.get("value")
            rec |= {"overall_delta": e.delta, "previous_run": e.previous_run, "run_id": e.run_id,
                    "created": e.created, "device": e.device}
            records.append(rec)
    return rows, records


def render_csv(lb: Leaderboard) -> str:
    _, records = _flat_rows(lb)
    buf = io.StringIO()
    fields = list(records[0]) if records else ["suite", "split", "rank", "model"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for rec in records:
        w.writerow({k: ("" if v is None else v) for k, v in rec.items()})
    return buf.getvalue()


def render_json(lb: Leaderboard) -> str:
    data = {
        "schema": LEADERBOARD_SCHEMA,
        "all_runs": lb.all_runs,
        "groups": [{"suite": g.suite, "split": g.split, "rows": g.rows, "units": g.units,
                    "entries": [{"rank": e.rank, "model": e.model, "run_id": e.run_id, "created": e.created,
                                 "device": e.device, "overall": e.overall, "overall_delta": e.delta,
                                 "previous_run": e.previous_run, "cells": e.cells} for e in g.entries]}
                   for g in lb.groups],
        "skipped": [{"run": n, "reason": why} for n, why in lb.skipped],
    }
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


_CSS = ("body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin-bottom:2rem}"
        "th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:center}td.model{text-align:left}"
        ".up{color:#17803d}.down{color:#b42318}.star{color:#c58a00}")


def render_html(lb: Leaderboard) -> str:
    e_ = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', "<title>evalkit leaderboard</title>",
           f"<style>{_CSS}</style></head><body>", "<h1>evalkit leaderboard</h1>"]
    if not lb.groups:
        out.append("<p>No rated runs yet.</p>")
    for g in lb.groups:
        out.append(f"<h2>Suite {e_(g.suite)}, split {e_(g.split)}</h2>")
        head = ["#", "Model", *g.rows, "Δ Overall", "Run", "Date"]
        out.append("<table><thead><tr>" + "".join(
            f'<th title="{e_(g.units[h])}">{e_(h)}</th>' if g.units.get(h) else f"<th>{e_(h)}</th>" for h in head)
            + "</tr></thead><tbody>")
        for e in g.entries:
            tds = [f"<td>{e.rank}</td>", f'<td class="model">{e_(e.model)}</td>']
            for r in g.rows:
                c = e.cells.get(r) or {}
                ci = f"95% CI {fmt_num(c.get('ci_low'))} to {fmt_num(c.get('ci_high'))}" if c.get("ci_low") is not None else ""
                tip = "; ".join(x for x in (ci, c.get("note") or "") if x)
                body = (f'<span class="star">{e_(stars_text(c.get("stars")))}</span> {e_(fmt_num(c.get("value")))}'
                        if c.get("value") is not None else "n/a")
                tds.append(f'<td title="{e_(tip)}">{body}</td>' if tip else f"<td>{body}</td>")
            cls = "up" if (e.delta or 0) > 0 else "down" if (e.delta or 0) < 0 else ""
            tds.append(f'<td class="{cls}">{e_(delta_text(e.delta, e.previous_run))}</td>' if cls
                       else f"<td>{e_(delta_text(e.delta, e.previous_run))}</td>")
            tds += [f"<td>{e_(e.run_id)}</td>", f"<td>{e_(_date(e.created))}</td>"]
            out.append("<tr>" + "".join(tds) + "</tr>")
        out.append("</tbody></table>")
        if _units(g):
            out.append(f'<p class="units">{e_(_units(g))}</p>')
    out += [f"<p>{e_(FOOTNOTE)}</p>", "</body></html>", ""]
    return "\n".join(out)


RENDERERS: dict[str, Callable[[Leaderboard], str]] = {"md": render_md, "csv": render_csv, "json": render_json,
                                                       "html": render_html}


def render(lb: Leaderboard, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise EvalkitError(f"unknown leaderboard format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return RENDERERS[fmt](lb)


def format_for(output: str | None, fmt: str | None) -> str:
    """--format wins; else the output file's extension; else Markdown."""
    if fmt:
        return fmt
    if output:
        ext = Path(output).suffix.lower().lstrip(".")
        return {"markdown": "md", "htm": "html"}.get(ext, ext) if ext in (*FORMATS, "markdown", "htm") else "md"
    return "md"
