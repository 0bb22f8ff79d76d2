"""The one place for how numbers, stars and untrusted text look in every report (run report, regression
check, leaderboard, console). Two number styles and two Markdown escapes exist on purpose; each renderer
keeps the one its output has always used (the golden files pin them).
"""

from __future__ import annotations

import math
import re
from html import escape as _html_escape
from typing import Any

# ---------------------------------------------------------------- numbers

def fmt(x: Any, unit: str = "") -> str:
    """A number as people read it: 3 significant digits, no exponent, "n/a" for nothing (run reports)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    ax = abs(x)
    if ax >= 1000:
        s = f"{x:,.0f}"
    elif ax >= 100:
        s = f"{x:.0f}"
    elif ax >= 10:
        s = f"{x:.1f}"
    elif ax >= 1 or ax == 0:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3g}"
    if s.startswith("-") and float(s.replace(",", "")) == 0:
        s = s[1:]
    return f"{s} {unit}".rstrip() if unit else s


def fmt_signed(x: float | None) -> str:
    s = fmt(x)
    return s if s == "n/a" or s.startswith("-") or s == "0.00" else "+" + s


def fmt_ci(lo: Any, hi: Any) -> str:
    return "" if lo is None or hi is None else f"[{fmt(lo)}, {fmt(hi)}]"


def fmt_num(v: float | None) -> str:
    """Fixed decimals by size (0.300, 5.90, 73.0, 120): columns of a leaderboard or a regression table."""
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


# ---------------------------------------------------------------- stars

def stars_text(stars: Any, empty: str = "n/a") -> str:
    """★ per whole star and ½ for a half star (3.5 -> ★★★½, to the nearest half in 0..5); ``empty``
    when there is no rating."""
    if not isinstance(stars, (int, float)) or isinstance(stars, bool) or not math.isfinite(stars):
        return empty
    halves = max(0, min(10, round(float(stars) * 2)))
    return "★" * (halves // 2) + ("½" if halves % 2 else "")


# ---------------------------------------------------------------- escaping untrusted text

_MD_REPORT_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")  # emphasis, code, links, headings, table cells
# Escaped with a backslash (CommonMark allows it before any ASCII punctuation). Parentheses, # and !
# need none once [ ] are escaped, and leaving them keeps headers such as "Speed (s/story)" readable.
_MD_TABLE_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~&$])")


def md_escape(text: Any) -> str:
    """Run report (report.md): HTML entities for & < >, Markdown punctuation backslashed, one line."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_REPORT_SPECIAL.sub(r"\\\1", s)
    return " ".join(s.split())


def md_escape_backslash(text: Any) -> str:
    """Leaderboard and regression tables: no line breaks, no pipes, no markup, no HTML, by backslashes
    only (no entities), so the text reads the same in a plain-text viewer."""
    s = "" if text is None else str(text)
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", s).strip()
    return _MD_TABLE_SPECIAL.sub(r"\\\1", s)


def html_escape(text: Any) -> str:
    """Untrusted text in HTML, quotes included (safe in attributes too)."""
    return _html_escape(str(text), quote=True)
