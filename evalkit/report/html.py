"""report.html: one self-contained file (inline CSS, inline SVG charts, a few lines of inline JS).

Generated stories are untrusted: every piece of text is HTML-escaped, and a Content-Security-Policy
allows only this file's own script (by its sha256), no network, so even a missed escape could not
run code or fetch anything. The genre filter reads and writes ``#genre=NAME`` in the URL.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from evalkit.records import Rating
from evalkit.report.capacity import HEADER as CAPACITY_HEADER
from evalkit.report.capacity import capacity_section
from evalkit.report.charts import bar_chart, color, scatter
from evalkit.report.data import INJECTION_HEADER, INJECTION_INTRO, ReportData, missing_line
from evalkit.report.format import fmt, html_escape
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
    story_stars_text,
    value_text,
    winner_text,
)

TEMPLATE = Path(__file__).with_name("template.html")
SCRIPT = """(function () {
  var select = document.getElementById("genre-filter");
  var stories = Array.prototype.slice.call(document.querySelectorAll("article.story"));
  var count = document.getElementById("story-count");
  function apply() {
    var genre = select.value, shown = 0;
    stories.forEach(function (s) {
      var hide = genre !== "" && s.getAttribute("data-genre") !== genre;
      s.hidden = hide;
      if (!hide) { shown += 1; }
    });
    count.textContent = shown + " of " + stories.length + " prompts shown";
  }
  function fromHash() {
    var m = /^#genre=(.*)$/.exec(window.location.hash);
    var want = m ? decodeURIComponent(m[1]) : "";
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === want) { select.value = want; }
    }
    apply();
  }
  select.addEventListener("change", function () {
    window.location.hash = select.value ? "genre=" + encodeURIComponent(select.value) : "";
    apply();
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.body.setAttribute("data-ready", "1");
})();"""


e = html_escape


def render_html(data: ReportData) -> str:
    judge = [_judge(data)] if data.judge is not None else []  # a run without a judge: the page as before
    if data.capacity is None:
        parts = [_charts(data), _anchors(data), *judge, _notes(data), _stories(data)]
    else:  # random weights: no stories, no quality anchors
        parts = [_capacity(data), _cut_table(data), _notes(data)]
    body = "\n".join([_header(data), _star_table(data), _numbers(data), *parts])
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    page = TEMPLATE.read_text(encoding="utf-8")
    # replace the body last so nothing inside it is ever taken for a placeholder
    page = (page.replace("{{SCRIPT_HASH}}", f"'sha256-{digest}'").replace("{{TITLE}}", e(f"evalkit report: {data.run_id}"))
            .replace("{{SCRIPT}}", SCRIPT))
    head, tail = page.split("{{BODY}}", 1)
    return head + body + tail


def _header(data: ReportData) -> str:
    missing = missing_line(data)
    lost = f'<p class="error" id="missing">{e(missing)}</p>' if missing else ""
    return (f"<header><h1>evalkit report: run {e(data.run_id)}</h1>"
            f'<p class="prov" id="provenance">{e(provenance(data))}</p>{lost}</header>')


def _star_table(data: ReportData) -> str:
    models = data.models
    head = "".join(f'<th style="border-top:3px solid {color(i)}">{e(m)}</th>' for i, m in enumerate(models))
    rows = []
    for row in data.rating.rows:
        cells = "".join(f'<td class="stars" title="{e(value_text(row.models.get(m)))}">'
                        f'{e(star_cell_text(row, row.models.get(m)))}</td>' for m in models)
        cls = ' class="overall"' if row.kind == "overall" else ""
        rows.append(f'<tr{cls}><th scope="row">{e(row.row)}</th>{cells}<td class="win">{e(winner_text(row))}</td></tr>')
    return ('<section id="stars"><h2>Star ratings</h2><table id="star-table"><thead><tr><th>Metric</th>'
            f'{head}<th>Winner</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '<p class="note">★ = one star, ½ = half a star (1 to 5); n/a = not measured or not comparable. A winner is '
            'named only when the difference is significant; otherwise the row is a tie.</p></section>')


def _numbers(data: ReportData) -> str:
    models, r = data.models, data.rating
    diff_head = f"{models[0]} − {models[1]} [95% CI]" if len(models) == 2 else "Differences [95% CI]"
    rows = []
    for row in r.rows:
        diff = "<br>".join((e(f"{c.a} − {c.b}: ") if len(models) > 2 else "") + e(comparison_text(c))
                           + (" ✓" if c.significant else "") for c in row.comparisons) or "n/a"
        cells = "".join(f"<td>{e(value_text(row.models.get(m)))}</td>" for m in models)
        rows.append(f"<tr><th scope=\"row\">{e(row.row)}</th><td class=\"note\">{e(row.unit or '')}</td>"
                    f"{cells}<td>{diff}</td><td class=\"note\">{e(method_text(row, r))}</td></tr>")
    head = "".join(f"<th>{e(m)}</th>" for m in models)
    return ('<section id="numbers"><h2>Numbers</h2><p class="note">Mean per story with its 95% bootstrap CI; ✓ = '
            'significant. Memory and training time are one measurement per model (a margin, not a test).</p>'
            f'<table id="numbers-table"><thead><tr><th>Metric</th><th>Unit</th>{head}<th>{e(diff_head)}</th>'
            f'<th>Test</th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


def _charts(data: ReportData) -> str:
    models = data.models
    svgs = []
    for row in data.rating.rows:
        cells = [row.models.get(m) for m in models]
        if all(c is None or c.value is None for c in cells):
            continue
        bars = [(m, c.value, c.ci_low, c.ci_high) if c is not None else (m, None, None, None)
                for m, c in zip(models, cells)]
        svgs.append(bar_chart(f"{row.row} ({row.metric or 'stars'})", "", bars))
    overall, speed, memory = data.row("Overall Quality"), data.row("Inference Speed"), data.row("Memory Efficiency")
    for cost, label in ((speed, "seconds per story"), (memory, "GB peak memory")):
        if not overall or not cost:
            continue
        pts = {m: (cost.models[m].value, overall.models[m].value) for m in models
               if m in cost.models and cost.models[m].value is not None
               and m in overall.models and overall.models[m].value is not None}
        svg = scatter(f"Overall Quality vs {label}", label, "Overall Quality", pts, models) if pts else ""
        if svg:
            svgs.append(svg)
    if not svgs:
        return '<section id="charts"><h2>Charts</h2><p class="note">No numbers to chart.</p></section>'
    return ('<section id="charts"><h2>Charts</h2><p class="note">Bars: mean with its 95% CI. Scatter: the Pareto '
            'front (no other model is both cheaper and better) is ringed and joined by a dashed line.</p>'
            f'<div class="charts">{"".join(svgs)}</div></section>')


def _anchors(data: ReportData) -> str:
    r = data.rating
    rows = []
    for row in r.rows:
        if row.kind != "quality":
            continue
        a = r.anchors.get(row.metric or "")
        kinds = (", ".join(f"{k} {fmt(v)}" for k, v in (a.degenerate or {}).items()) or a.note or "n/a") if a else "n/a"
        rows.append(f"<tr><th scope=\"row\">{e(row.row)}</th><td>{e(row.metric or 'n/a')}</td>"
                    f"<td>{e(fmt(a.one_star if a else None))}</td><td>{e(fmt(a.five_star if a else None))}</td>"
                    f"<td>{e(kinds)}</td><td>{e((a.n if a else 0) or 0)}</td></tr>")
    sources = "".join(f"<tr><th scope=\"row\">{e(a)}</th><td>{e(b)}</td><td>{e(c)}</td><td>{e(d)}</td></tr>"
                      for a, b, c, d in stars_source_rows(r))
    cal_notes = "".join(f"<p class=\"note\">Calibration data: {e(n)}</p>" for n in calibration_notes(r))
    return ('<section id="anchors"><h2>How stars are given</h2><p>A quality row\'s stars are each story\'s calibrated '
            'stars where a calibration exists (the rating people give stories with that score); otherwise they are '
            'anchored on the suite: the mean score of its reference stories is 5 stars, the mean score of degenerate '
            'copies of them (looped, shuffled, off-genre, copied) is 1 star, linear in between and clipped. A row whose '
            'references do not beat their degenerate copies (paired test over the items) is not informative on this '
            'suite: no stars, no winner.</p>'
            '<table id="stars-from"><thead><tr><th>Row</th><th>Metric</th><th>Stars from</th><th>References vs '
            f'degenerate copies</th></tr></thead><tbody>{sources}</tbody></table>{cal_notes}'
            '<table id="anchor-table"><thead><tr><th>Row</th><th>Metric</th><th>1★ level</th><th>5★ level '
            '(references)</th><th>Degenerate kinds (mean)</th><th>References</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>{_cut_html(r)}</section>')


def _cut_html(r: Rating) -> str:
    cut_html = "".join(
        f"<tr><th scope=\"row\">{e(name)}</th><td>{e(metric)}</td>"
        + "".join(f"<td>{'≤ ' if i == 0 else '≥ ' if i == 4 else ''}{e(fmt(c))}</td>" for i, c in enumerate(cuts))
        + "</tr>" for name, metric, cuts in cut_rows(r))
    return ('<p>Speed, memory and training time: fixed cut points, the same on every machine (linear in log(value) '
            'between them).</p><table id="cut-table"><thead><tr><th>Row</th><th>Measurement</th><th>5★</th><th>4★</th>'
            f'<th>3★</th><th>2★</th><th>1★</th></tr></thead><tbody>{cut_html}</tbody></table>')


def _cut_table(data: ReportData) -> str:
    return f'<section id="anchors"><h2>How stars are given</h2>{_cut_html(data.rating)}</section>'


def _capacity(data: ReportData) -> str:
    sec = capacity_section(data)
    if sec is None:
        return ""
    intro = "".join(f"<p>{e(s)}</p>" for s in sec.intro)
    notes = "".join(f"<li>{e(n)}</li>" for n in sec.notes)
    return (f'<section id="capacity"><h2>Capacity</h2>{intro}{_table("capacity-table", CAPACITY_HEADER, sec.rows)}'
            + (f'<ul class="note">{notes}</ul>' if notes else "") + "</section>")


def _table(table_id: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _judge(data: ReportData) -> str:
    sec = judge_section(data)
    if sec is None:
        return ""
    facts = "".join(f"<li>{e(f)}</li>" for f in sec.facts)
    parts = [f'<section id="judge"><h2>Judge</h2><ul>{facts}</ul>']
    if sec.preferences:
        parts.append(_table("judge-preferences", PREFERENCE_HEADER, sec.preferences))
    if sec.agreement:
        parts.append('<p class="note">Agreement with the automatic metric of the same row (over the run\'s stories):</p>')
        parts.append(_table("judge-agreement", AGREEMENT_HEADER, sec.agreement))
    parts += [f'<p class="error"><b>Warning:</b> {e(w)}</p>' for w in sec.warnings]
    if data.injections:
        parts.append(f'<p class="error">{e(INJECTION_INTRO)}</p>')
        parts.append(_table("judge-injections", INJECTION_HEADER, data.injections))
    return "".join(parts) + "</section>"


def _notes(data: ReportData) -> str:
    items = "".join(f"<li>{e(row)}{e(' · ' + m) if m else ''}: {e(n)}</li>" for row, m, n in notes(data.rating))
    return f'<section id="notes"><h2>Notes</h2><ul>{items}</ul></section>' if items else ""


def _stories(data: ReportData) -> str:
    models = data.models
    genres = sorted({s.genre for s in data.stories})
    options = "".join(f'<option value="{e(g)}">{e(g)}</option>' for g in genres)
    arts = []
    for s in data.stories:
        chars = "; ".join(f"{n} ({d})" if d else n for n, d in s.characters) or "n/a"
        cols = []
        for i, m in enumerate(models):
            out = s.outputs.get(m)
            if out is None:
                body = '<p class="error">no story stored</p>'
            elif out.error:
                body = f'<p class="error">generation failed: {e(out.error)}</p>'
            else:
                score_rows = "".join(_score_row(data, k, v, out.scores) for k, v in sorted(out.scores.items()))
                body = f'<div class="text">{e(out.text)}</div><table class="scores">{score_rows}</table>'
            cols.append(f'<div class="col" style="border-top-color:{color(i)}"><h4>{e(m)}</h4>{body}</div>')
        arts.append(
            f'<article class="story" id="item-{e(s.item_id)}" data-genre="{e(s.genre)}">'
            f'<h3>{e(s.item_id)} <span class="genre">{e(s.genre)}</span></h3>'
            f'<p class="prompt"><b>Prompt:</b> {e(s.prompt)}</p><p class="chars"><b>Characters:</b> {e(chars)}</p>'
            f'<div class="cols" style="grid-template-columns:repeat({max(1, len(models))},minmax(0,1fr))">{"".join(cols)}</div>'
            f'<details><summary>Reference story (the suite\'s 5-star level)</summary><div class="text">{e(s.reference)}</div>'
            '</details></article>')
    return ('<section id="stories"><h2>Stories</h2><div class="filter"><label for="genre-filter">Genre </label>'
            f'<select id="genre-filter"><option value="">All genres</option>{options}</select> '
            f'<span id="story-count">{len(data.stories)} prompts</span></div>{"".join(arts)}</section>')


def _score_row(data: ReportData, metric: str, value: float | None, scores: dict[str, float | None]) -> str:
    """One metric of one story; a quality row's metric also shows the stars that row gave this story."""
    shown = story_stars_text(data.rating, metric, scores)
    if shown is None:
        return f"<tr><td>{e(metric)}</td><td>{e(fmt(value))}</td><td></td></tr>"
    row, stars = shown
    return (f"<tr><td>{e(row)} · {e(metric)}</td><td>{e(fmt(value))}</td>"
            f'<td class="stars">{e(stars)}</td></tr>')
