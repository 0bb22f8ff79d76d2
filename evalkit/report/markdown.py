"""report.md: the seed's eight-row star table, the numbers behind it, the anchors and the rules.

Everything that came from outside the code (model labels, notes, suite names) is escaped, so a label
like ``a|b <script>`` cannot break a table or inject HTML into a Markdown viewer.
"""

from __future__ import annotations

from evalkit.report.capacity import HEADER as CAPACITY_HEADER
from evalkit.report.capacity import capacity_section
from evalkit.report.data import INJECTION_HEADER, INJECTION_INTRO, ReportData, missing_line
from evalkit.report.format import fmt, md_escape
from evalkit.report.text import (
    AGREEMENT_HEADER,
    PREFERENCE_HEADER,
    calibration_notes,
    comparison_text,
    cut_rows,
    judge_section,
    method_text,
    notes,
    provenance,
    star_cell_text,
    stars_source_rows,
    value_text,
    winner_text,
)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render_markdown(data: ReportData) -> str:
    r = data.rating
    models = data.models
    lines = [f"# evalkit report: run {md_escape(data.run_id)}", "", md_escape(provenance(data)), ""]
    missing = missing_line(data)
    if missing:
        lines += [f"**{md_escape(missing)}**", ""]

    lines += ["## Star ratings", ""]
    rows = []
    for row in r.rows:
        cells = [star_cell_text(row, row.models.get(m)) for m in models]
        name = f"**{md_escape(row.row)}**"
        win = md_escape(winner_text(row))
        rows.append([name, *cells, f"**{win}**" if row.kind == "overall" and win not in ("n/a", "tie") else win])
    lines += _table(["Metric", *map(md_escape, models), "Winner"], rows)
    lines += ["", "★ = one star, ½ = half a star (1 to 5 stars); n/a = not measured or not comparable. "
              "A winner is named only when the difference is significant (see Numbers); otherwise the row is a tie.", ""]

    lines += ["## Numbers", "", "Mean per story with its 95% bootstrap CI; memory and training time are one "
              "measurement per model.", ""]
    two = len(models) == 2
    header = ["Metric", "Unit", *map(md_escape, models)]
    header += [f"{md_escape(models[0])} − {md_escape(models[1])} [95% CI]"] if two else []
    header += ["Test"]
    rows = []
    for row in r.rows:
        cells = [value_text(row.models.get(m)) for m in models]
        extra = []
        if two:
            extra = [comparison_text(row.comparisons[0]) if row.comparisons else "n/a"]
        rows.append([md_escape(row.row), md_escape(row.unit or ""), *cells, *extra,
                     md_escape(method_text(row, r))])
    lines += _table(header, rows)
    lines.append("")

    if len(models) > 2:
        lines += ["## Pairwise tests", ""]
        rows = []
        for row in r.rows:
            for c in row.comparisons:
                rows.append([md_escape(row.row), f"{md_escape(c.a)} − {md_escape(c.b)}", comparison_text(c),
                             ("yes" if c.significant else "no") + (" (margin, no test)" if c.ci_low is None else ""),
                             md_escape(c.better or "—")])
        lines += _table(["Metric", "Difference", "Value [95% CI]", "Significant", "Better"], rows) if rows else ["No comparisons."]
        lines.append("")

    lines += _capacity_section(data)
    lines += _anchor_section(data) if data.capacity is None else ["## How stars are given", "", *_cut_section(data)]
    lines += _judge_section(data)

    found = notes(r)
    if found:
        lines += ["## Notes", ""]
        lines += [f"- {md_escape(row)}{' · ' + md_escape(m) if m else ''}: {md_escape(n)}" for row, m, n in found]
        lines.append("")

    lines += ["## Models", ""]
    rows = []
    for mrun in data.manifest.models:
        info = mrun.info
        mem = mrun.memory
        rows.append([md_escape(mrun.label), md_escape(info.backend if info else mrun.spec.get("backend", "")),
                     _params(info.parameters if info else None),
                     md_escape((info.dtype or "") + (f" / {info.quantization}" if info and info.quantization else "")) if info else "",
                     fmt(mrun.load_s, "s"), md_escape(mem.kind if mem else "n/a"), str(mrun.n_failed)])
    lines += _table(["Model", "Backend", "Parameters", "Dtype", "Load", "Memory kind", "Failed stories"], rows)
    lines.append("")
    return "\n".join(lines)


def _anchor_section(data: ReportData) -> list[str]:
    r = data.rating
    lines = ["## How stars are given", "",
             "A quality row's stars are each story's calibrated stars where a calibration exists (the rating people "
             "give stories with that score), averaged over the stories; otherwise they are anchored on the suite: the "
             "mean score of its reference stories is 5 stars, the mean score of degenerate copies of them (looped, "
             "shuffled, off-genre, copied) is 1 star, linear in between and clipped. A row whose reference stories do "
             "not beat their degenerate copies (paired test over the items) is not informative on this suite: no stars, "
             "no winner. Overall Quality is the weighted mean, story by story, of the quality rows' stars.", ""]
    rows = []
    for row in r.rows:
        if row.kind != "quality":
            continue
        a = r.anchors.get(row.metric or "")
        kinds = ", ".join(f"{k} {fmt(v)}" for k, v in ((a.degenerate if a else None) or {}).items())
        rows.append([md_escape(row.row), md_escape(row.metric or "n/a"), fmt(a.one_star if a else None),
                     fmt(a.five_star if a else None), md_escape(kinds or (a.note if a else None) or "n/a"),
                     str((a.n if a else 0) or 0)])
    lines += _table(["Row", "Metric", "1★ level", "5★ level (references)", "Degenerate kinds (mean)", "References"], rows)
    lines.append("")
    lines += _cut_section(data)
    lines += ["## Where each quality row's stars come from", ""]
    lines += _table(["Row", "Metric", "Stars from", "References vs degenerate copies"],
                    [[md_escape(a), md_escape(b), md_escape(c), md_escape(d)] for a, b, c, d in stars_source_rows(r)])
    lines.append("")
    for note in calibration_notes(r):
        lines += [f"Calibration data: {md_escape(note)}", ""]
    return lines


def _cut_section(data: ReportData) -> list[str]:
    lines: list[str] = []
    cuts = cut_rows(data.rating)
    if cuts:
        lines += ["Speed, memory and training time use fixed cut points, the same on every machine "
                  "(stars are linear in log(value) between them):", ""]
        lines += _table(["Row", "Measurement", "5★", "4★", "3★", "2★", "1★"],
                        [[md_escape(name), md_escape(metric), *(f"≤ {fmt(cuts[0])}" if i == 0 else
                                                                 (f"≥ {fmt(c)}" if i == 4 else fmt(c))
                                                                 for i, c in enumerate(cuts))]
                         for name, metric, cuts in cuts])
        lines.append("")
    return lines


def _capacity_section(data: ReportData) -> list[str]:
    sec = capacity_section(data)
    if sec is None:
        return []
    lines = ["## Capacity", ""] + [line for s in sec.intro for line in (md_escape(s), "")]
    lines += _table(CAPACITY_HEADER, [[md_escape(c) for c in row] for row in sec.rows]) + [""]
    return lines + [f"- {md_escape(n)}" for n in sec.notes] + ([""] if sec.notes else [])


def _judge_section(data: ReportData) -> list[str]:
    sec = judge_section(data)
    if sec is None:
        return []
    lines = ["## Judge", ""] + [f"- {md_escape(f)}" for f in sec.facts] + [""]
    if sec.preferences:
        lines += _table(PREFERENCE_HEADER, [[md_escape(c) for c in r] for r in sec.preferences]) + [""]
    if sec.agreement:
        lines += ["Agreement with the automatic metric of the same row (over the run's stories):", ""]
        lines += _table(AGREEMENT_HEADER, [[md_escape(c) for c in r] for r in sec.agreement]) + [""]
    lines += [f"- **Warning:** {md_escape(w)}" for w in sec.warnings] + ([""] if sec.warnings else [])
    if data.injections:
        lines += [md_escape(INJECTION_INTRO), ""]
        lines += _table(INJECTION_HEADER, [[md_escape(c) for c in r] for r in data.injections]) + [""]
    return lines


def _params(n: int | None) -> str:
    if not n:
        return "n/a"
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n:,}"
