"""The regression check's renderers: regress.md and the console table of an evalkit.regress.RegressResult."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalkit.regress import Check, RegressResult
from evalkit.report.format import fmt_num
from evalkit.report.format import md_escape_backslash as md_escape


def _ci(c: Check) -> str:
    if c.ci_low is None or c.ci_high is None:
        return ""
    return f"{_signed(c.ci_low)} to {_signed(c.ci_high)}"


def _signed(v: float | None) -> str:
    if v is None:
        return ""
    if v == int(v) and abs(v) < 1000:
        return f"{int(v):+d}" if v else "0"
    return ("+" if v > 0 else "-" if v < 0 else "") + fmt_num(abs(v))


def _tol(c: Check) -> str:
    if c.tolerance is None:
        return c.tolerance_text
    if c.kind == "failures":
        return str(int(c.tolerance))
    return f"{fmt_num(c.tolerance)} ({c.tolerance_text})" if c.tolerance_text.endswith("%") else fmt_num(c.tolerance)


def _val(c: Check, v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if c.kind == "failures" else fmt_num(v)


def _verdict(c: Check) -> str:
    if c.reason and c.verdict in ("skipped", "regression"):
        return f"{c.verdict}: {c.reason}"
    return c.verdict


def verdict_line(r: RegressResult) -> str:
    if not r.regressions:
        skipped = sum(c.verdict == "skipped" for c in r.checks)
        note = f" ({skipped} of {len(r.checks)} checks skipped: see the table)" if skipped else ""
        return f"PASS: no regression beyond tolerance that the paired test calls significant{note}"
    many = len(r.pairs) > 1
    names = ", ".join(f"{c.metric} ({c.model})" if many else c.metric for c in r.regressions)
    return f"REGRESSION: {names}"


def render_md(r: RegressResult) -> str:
    cfg = r.config
    out = [
        f"# Regression check: {md_escape(r.candidate.run_id)} against {md_escape(r.baseline.run_id)}", "",
        f"**{md_escape(verdict_line(r))}**", "",
        f"- Baseline: {md_escape(r.baseline.describe())}",
        f"- Candidate: {md_escape(r.candidate.describe())}",
        "- Models: " + ", ".join(f"{md_escape(b)} -> {md_escape(c)}" for b, c in r.pairs),
        "- Speed and memory: " + ("compared (same hardware)" if r.hardware_reason is None
                                  else f"skipped, {md_escape(r.hardware_reason)}"),
        f"- Method: cluster bootstrap over suite items of the mean per-item difference, the test the star table uses ({cfg.resamples:,} resamples, seed {cfg.seed}, "
        f"{cfg.confidence:.0%} CI); a regression is a change for the worse beyond the tolerance whose CI excludes 0. "
        "Peak memory and failed stories are single readings: the tolerance alone decides.", "",
        "| Model | Metric | Baseline | Candidate | Δ | CI of Δ | Tolerance | n | Verdict |",
        "|---|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for c in r.checks:
        cells = [c.model, c.metric, _val(c, c.baseline), _val(c, c.candidate), _signed(c.delta), _ci(c), _tol(c),
                 str(c.n), _verdict(c)]
        out.append("| " + " | ".join(md_escape(x) for x in cells) + " |")
    if r.notes:
        out += ["", "Notes:", ""] + [f"- {md_escape(n)}" for n in r.notes]
    return "\n".join(out) + "\n"


def print_table(r: RegressResult) -> None:
    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    t = Table(title=f"{r.candidate.run_id} vs {r.baseline.run_id} ({r.baseline.suite}/{r.baseline.split})")
    for name, just in (("Model", "left"), ("Metric", "left"), ("Baseline", "right"), ("Candidate", "right"),
                       ("Δ", "right"), (f"{r.config.confidence:.0%} CI of Δ", "left"), ("Tolerance", "right"),
                       ("n", "right"), ("Verdict", "left")):
        t.add_column(name, justify=just)  # type: ignore[arg-type]
    style = {"regression": "bold red", "better": "green", "worse (noise)": "yellow", "worse (tolerated)": "yellow"}
    for c in r.checks:
        t.add_row(escape(c.model), escape(c.metric), _val(c, c.baseline), _val(c, c.candidate), _signed(c.delta), _ci(c), _tol(c),
                  str(c.n), escape(_verdict(c)), style=style.get(c.verdict))
    console.print(t)
    if r.hardware_reason:
        console.print(f"speed and memory skipped: {escape(r.hardware_reason)}")
    for n in r.notes:
        console.print(f"note: {escape(n)}")
