"""The leaderboard's renderers: Markdown, CSV, JSON and HTML of an evalkit.leaderboard.Leaderboard.
Deterministic: the same leaderboard gives the same bytes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.leaderboard import Group, Leaderboard
from evalkit.records import LEADERBOARD_SCHEMA, LeaderboardRecord, dump_record
from evalkit.report.format import fmt_num, html_escape
from evalkit.report.format import md_escape_backslash as md_escape
from evalkit.report.format import stars_text as _stars_text

FORMATS = ("md", "csv", "json", "html")


def stars_text(stars: float | None) -> str:
    """★ per whole star and ½ for a half star; empty when not rated (a leaderboard cell then shows the value)."""
    return _stars_text(stars, empty="")


def cell_text(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("value") is None:
        return "n/a"
    st = stars_text(cell.get("stars"))
    return f"{st} {fmt_num(cell['value'])}".strip()


def delta_text(delta: float | None, previous: str | None, significant: bool | None = None,
               mde: float | None = None) -> str:
    if previous is None:
        return "new"
    if delta is None:
        return "n/a"
    noise = f" (noise: under {fmt_num(mde)}★ is not detectable)" if significant is False and mde is not None else ""
    if delta > 0:
        return f"▲ +{fmt_num(delta)}{noise}"
    if delta < 0:
        return f"▼ -{fmt_num(-delta)}{noise}"
    return "= 0"


def _units(g: Group) -> str:
    """Units go under the table: the rating's unit texts are whole phrases, too long for a header."""
    parts = [f"{r}: {g.units[r]}" for r in g.rows if g.units.get(r)]
    return "Units: " + "; ".join(parts) + "." if parts else ""


FOOTNOTE = ("Stars: ★ = one star, ½ = half a star (1 to 5), from each run's rating.json; n/a = not measured. "
            "Δ = change of Overall Quality against the same model's previous run on this suite and split; "
            "\"noise\" when the star table's test (cluster bootstrap over the shared items) cannot tell it from zero.")


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
                     md_escape(delta_text(e.delta, e.previous_run, e.delta_significant, e.delta_mde)), md_escape(e.run_id), md_escape(_date(e.created))]
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
            rec |= {"overall_delta": e.delta, "delta_significant": e.delta_significant, "previous_run": e.previous_run,
                    "run_id": e.run_id,
                    "created": e.created, "device": e.device}
            records.append(rec)
    return rows, records


def render_csv(lb: Leaderboard) -> str:
    _, records = _flat_rows(lb)
    buf = io.StringIO()
    fields = list(records[0]) if records else ["suite", "split", "rank", "model"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writerow({k: csv_cell(k) for k in fields})  # the header too: row names come from rating files
    for rec in records:
        w.writerow({k: csv_cell(v) for k, v in rec.items()})
    return buf.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v: Any) -> Any:
    """A CSV cell a spreadsheet cannot run: text starting with = + - @ tab or CR (a model label like
    =HYPERLINK(...)) gets a leading single quote (OWASP CSV injection); numbers stay numbers."""
    if v is None:
        return ""
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def render_json(lb: Leaderboard) -> str:
    data = LeaderboardRecord.model_validate({
        "schema": LEADERBOARD_SCHEMA,
        "all_runs": lb.all_runs,
        "groups": [{"suite": g.suite, "split": g.split, "rows": g.rows, "units": g.units,
                    "entries": [{"rank": e.rank, "model": e.model, "run_id": e.run_id, "created": e.created,
                                 "device": e.device, "overall": e.overall, "overall_delta": e.delta,
                                 "previous_run": e.previous_run, "cells": e.cells,
                                 "delta_significant": e.delta_significant, "delta_mde": e.delta_mde} for e in g.entries]}
                   for g in lb.groups],
        "skipped": [{"run": n, "reason": why} for n, why in lb.skipped],
    })
    return json.dumps(dump_record(data), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


_CSS = ("body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin-bottom:2rem}"
        "th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:center}td.model{text-align:left}"
        ".up{color:#17803d}.down{color:#b42318}.star{color:#c58a00}")


def render_html(lb: Leaderboard) -> str:
    e_ = html_escape
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
            tds.append(f'<td class="{cls}">{e_(delta_text(e.delta, e.previous_run, e.delta_significant, e.delta_mde))}</td>' if cls
                       else f"<td>{e_(delta_text(e.delta, e.previous_run, e.delta_significant, e.delta_mde))}</td>")
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
