"""Inline SVG charts for report.html, drawn in Python (no JavaScript library, nothing fetched).

Every string that reaches the SVG goes through ``esc``; numbers are formatted with fixed precision so
the same rating always gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from evalkit.report.format import fmt
from evalkit.report.format import html_escape as esc

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _n(x: float) -> str:
    return f"{x:.1f}"


def _tick(x: float) -> str:
    return fmt(x)


def bar_chart(title: str, unit: str, bars: Sequence[tuple[str, float | None, float | None, float | None]],
              width: int = 460) -> str:
    """Horizontal bars, one per model: (label, value, ci_low, ci_high); CI drawn as a whisker."""
    row_h, left, top = 26, 150, 34
    height = top + row_h * len(bars) + 30
    vals = [v for b in bars for v in b[1:] if v is not None]
    lo, hi = min([0.0, *vals]), max([0.0, *vals]) or 1.0
    span = (hi - lo) or 1.0
    plot_w = width - left - 64  # room for the value label right of the longest bar

    def x(v: float) -> float:
        return left + (v - lo) / span * plot_w

    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
           f'<text x="8" y="18" class="ct">{esc(title)}</text>']
    for i, (label, v, cl, ch) in enumerate(bars):
        y = top + i * row_h
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" class="cl">{esc(_short(label))}</text>')
        if v is None:
            out.append(f'<text x="{left + 4}" y="{y + 15}" class="na">n/a</text>')
            continue
        x0, x1 = sorted((x(0.0), x(v)))
        out.append(f'<rect x="{_n(x0)}" y="{y + 3}" width="{_n(max(x1 - x0, 1.0))}" height="16" fill="{color(i)}" '
                   f'opacity="0.8"><title>{esc(label)}: {esc(_tick(v))}</title></rect>')
        if cl is not None and ch is not None:
            out.append(f'<line x1="{_n(x(cl))}" x2="{_n(x(ch))}" y1="{y + 11}" y2="{y + 11}" class="ci"/>'
                       f'<line x1="{_n(x(cl))}" x2="{_n(x(cl))}" y1="{y + 6}" y2="{y + 16}" class="ci"/>'
                       f'<line x1="{_n(x(ch))}" x2="{_n(x(ch))}" y1="{y + 6}" y2="{y + 16}" class="ci"/>')
        out.append(f'<text x="{_n(max(x1, x(ch) if ch is not None else x1) + 4)}" y="{y + 15}" class="cv">'
                   f'{esc(_tick(v))}</text>')
    base = top + row_h * len(bars) + 4
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" class="axis"/>')
    out.append(f'<text x="{left}" y="{base + 16}" class="tk">{esc(_tick(lo))}</text>'
               f'<text x="{left + plot_w}" y="{base + 16}" text-anchor="end" class="tk">{esc(_tick(hi))} {esc(unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def pareto_front(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """Labels not dominated when lower x (cost) and higher y (quality) are better, sorted by x."""
    front = []
    for a, (xa, ya) in points.items():
        dominated = any((xb <= xa and yb >= ya) and (xb < xa or yb > ya) for b, (xb, yb) in points.items() if b != a)
        if not dominated:
            front.append(a)
    return sorted(front, key=lambda k: (points[k][0], -points[k][1], k))


def scatter(title: str, x_label: str, y_label: str, points: Mapping[str, tuple[float, float]],
            order: Sequence[str], width: int = 460, height: int = 300) -> str:
    """Quality (y, 1-5 stars) against a cost on a log x axis; the Pareto front is joined and ringed."""
    left, right, top, bottom = 56, 24, 30, 44
    pw, ph = width - left - right, height - top - bottom
    xs = [p[0] for p in points.values() if p[0] > 0]
    if not xs:
        return ""
    lx0, lx1 = math.floor(math.log10(min(xs)) * 2) / 2, math.ceil(math.log10(max(xs)) * 2) / 2
    if lx1 - lx0 < 0.5:
        lx0, lx1 = lx0 - 0.5, lx1 + 0.5

    def px(v: float) -> float:
        return left + (math.log10(max(v, 1e-12)) - lx0) / (lx1 - lx0) * pw

    def py(v: float) -> float:
        return top + (5.0 - min(5.0, max(1.0, v))) / 4.0 * ph

    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
           f'<text x="8" y="18" class="ct">{esc(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="frame"/>']
    for s in range(1, 6):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{_n(py(s))}" y2="{_n(py(s))}" class="grid"/>'
                   f'<text x="{left - 6}" y="{_n(py(s) + 4)}" text-anchor="end" class="tk">{s}★</text>')
    e = lx0
    while e <= lx1 + 1e-9:
        v = 10 ** e
        out.append(f'<text x="{_n(px(v))}" y="{top + ph + 16}" text-anchor="middle" class="tk">{esc(_tick(v))}</text>')
        e += 0.5
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 8}" text-anchor="middle" class="al">{esc(x_label)} (log scale)</text>'
               f'<text x="12" y="{top + ph / 2:.1f}" transform="rotate(-90 12 {top + ph / 2:.1f})" text-anchor="middle" '
               f'class="al">{esc(y_label)}</text>')
    front = pareto_front(points)
    if len(front) > 1:
        pts = " ".join(f"{_n(px(points[k][0]))},{_n(py(points[k][1]))}" for k in front)
        out.append(f'<polyline points="{pts}" class="front"/>')
    for i, label in enumerate(order):
        if label not in points:
            continue
        xv, yv = points[label]
        cx, cy = px(xv), py(yv)
        on = label in front
        out.append(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="6" fill="{color(i)}" class="{"pf" if on else "pt"}">'
                   f'<title>{esc(label)}: {esc(_tick(xv))} {esc(x_label)}, {yv:.2f} stars'
                   f'{" (Pareto front)" if on else ""}</title></circle>'
                   + (f'<text x="{_n(cx - 9)}" y="{_n(cy - 8)}" text-anchor="end" class="cl">' if cx > width - 120
                      else f'<text x="{_n(cx + 9)}" y="{_n(cy - 8)}" class="cl">') + f'{esc(_short(label))}</text>')
    out.append("</svg>")
    return "".join(out)


def _short(label: str, n: int = 22) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"
