"""Reports of one run, rebuilt from its stored records only (no model, no scorer):
report.md (the seed's table, numbers, anchors) and report.html (the same plus charts and every story).

Both are pure functions of rating.json, manifest.json, generations.jsonl, scores.jsonl and judge.json,
with no clock in them, so rebuilding a report of the same run writes the same bytes.

- data.py: ReportData, gathered from the stored records (``report_data``)
- text.py: the words and cells the renderers share (winner, values, tests, provenance, star sources)
- markdown.py, html.py (+ template.html, charts.py), console.py: the renderers
- leaderboard.py, regress.py: the leaderboard's and the regression gate's renderers
- format.py: how numbers, stars and untrusted text look everywhere
"""

from __future__ import annotations

from pathlib import Path

from evalkit.records import write_text
from evalkit.report.data import Output, ReportData, StoryView, report_data
from evalkit.report.html import render_html
from evalkit.report.markdown import render_markdown

__all__ = ["Output", "ReportData", "StoryView", "report_data", "write_reports"]


def write_reports(folder: str | Path, data: ReportData) -> tuple[Path, Path]:
    """Write report.md and report.html into the run's folder (atomically). Returns both paths."""
    md, html = Path(folder) / "report.md", Path(folder) / "report.html"
    write_text(md, render_markdown(data))
    write_text(html, render_html(data))
    return md, html
