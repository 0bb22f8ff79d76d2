"""report.html: self-contained, escaped, and rendered by a real headless Chromium without console errors."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evalkit.pipeline import report_run
from evalkit.rating import ROWS
from evalkit.report.charts import pareto_front

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--enable-logging=stderr", "--v=0"]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def run_chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"  # a fresh profile per launch
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
                          capture_output=True, text=True, timeout=90)


class Tags(HTMLParser):
    """Collects start tags (with attributes) and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


@pytest.fixture(scope="module")
def report(scored_run: Path) -> Path:
    return report_run(scored_run)[1:][1]


def test_html_is_self_contained_and_escapes_generated_text(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(html)
    assert len(parser.scripts) == 1  # only the report's own filter script; the story's <script> is text
    assert '&lt;script&gt;document.title=&quot;PWNED&quot;' in html and "<img src=x" not in html
    digest = base64.b64encode(hashlib.sha256(parser.scripts[0].encode()).digest()).decode()
    csp = next(a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert f"'sha256-{digest}'" in csp and "default-src 'none'" in csp
    # nothing is fetched at view time: no external src/href anywhere
    assert not [a for t, a in parser.tags if any(str(v).startswith(("http:", "https:", "//")) for k, v in a.items()
                                                 if k in ("src", "href") and v)]
    assert len([t for t, a in parser.tags if t == "svg"]) >= 8  # bars per measured row + two scatter plots
    assert len([t for t, a in parser.tags if t == "article"]) == 5


def test_pareto_front_marks_models_nothing_beats() -> None:
    pts = {"fast-ok": (0.5, 3.0), "slow-best": (5.0, 4.5), "slow-bad": (6.0, 2.0), "fast-best": (0.5, 3.5)}
    assert pareto_front(pts) == ["fast-best", "slow-best"]
    assert pareto_front({"a": (1.0, 2.0), "b": (1.0, 2.0)}) == ["a", "b"]  # equal points dominate neither


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    url = report.resolve().as_uri()
    dom = run_chromium(tmp_path, url + "#genre=Fantasy", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # no script error, no CSP violation, no blocked fetch
    page = dom.stdout
    assert 'data-ready="1"' in page  # the filter script ran to its end
    assert "<title>evalkit report" in page and "PWNED</title>" not in page  # the story's script never ran
    star_table = page.split('id="star-table"', 1)[1].split("</table>", 1)[0]
    assert [re.sub(r"<[^>]+>", "", m) for m in re.findall(r'<th scope="row">(.*?)</th>', star_table)] == list(ROWS)
    assert star_table.count("★★★★★") >= 4
    articles = re.findall(r'<article class="story"[^>]*>', page)
    assert len(articles) == 5
    shown = [a for a in articles if "hidden" not in a]
    assert len(shown) == 1 and 'data-genre="Fantasy"' in shown[0]  # the genre filter applied from the URL
    assert "1 of 5 prompts shown" in page
    fantasy = page.split('data-genre="Fantasy"', 1)[1].split("</article>", 1)[0]
    assert fantasy.count('class="col"') == 2 and "&lt;script&gt;document.title" in fantasy  # shown as text
    shot = tmp_path / "report.png"
    res = run_chromium(tmp_path, url, f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars")
    assert res.returncode == 0 and shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_story_shows_the_stars_its_row_averaged(scored_run: Path, report: Path) -> None:
    """Issue 21: a story's stars in the story view are its stored <metric>_stars (rounded to halves as the
    table shows them) on a calibrated row, never stars recomputed from the anchors."""
    import html as html_lib
    import json

    from evalkit.rating.stars import round_half
    from evalkit.records import Rating
    from evalkit.report.format import stars_text

    rating = Rating.model_validate_json((scored_run / "rating.json").read_text(encoding="utf-8"))
    calibrated = {r.metric: r.row for r in rating.rows if r.kind == "quality" and (r.stars_from or "").startswith("calibration")}
    assert calibrated, "the scored run has a calibrated row (hanna-mtld)"
    stored = {}
    for line in (scored_run / "scores.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec["sample"] == 0:
            stored[(rec["item_id"], rec["model"])] = rec["scores"]
    page = report.read_text(encoding="utf-8")
    seen = 0
    for article in page.split('<article class="story" id="item-')[1:]:
        item = html_lib.unescape(article.split('"', 1)[0])
        for col in article.split('<div class="col"')[1:]:
            model = html_lib.unescape(re.search(r"<h4>(.*?)</h4>", col).group(1))
            for metric, row in calibrated.items():
                cell = re.search(rf"<td>{re.escape(html_lib.escape(row))} · {re.escape(metric)}</td><td>[^<]*</td>"
                                 r'<td class="stars">([^<]*)</td>', col)
                value = stored[(item, model)].get(f"{metric}_stars")
                assert cell is not None and html_lib.unescape(cell.group(1)) == stars_text(round_half(value)), (item, model)
                seen += 1
    assert seen == len(stored) * len(calibrated)


def test_a_winner_with_the_same_stars_shows_the_figures_that_decided_it() -> None:
    """Issue 21: Memory Efficiency with 5 stars each and a winner says why the winner won."""
    from evalkit.records import RatingCell, RatingRow
    from evalkit.report.text import winner_text

    def cell(value: float, stars: float, score: float) -> RatingCell:
        return RatingCell(value=value, ci_low=None, ci_high=None, n=1, stars=stars, score=score, note=None)

    memory = RatingRow(row="Memory Efficiency", kind="memory", metric="peak_memory_gb", unit="GB peak memory",
                       direction="lower", models={"a": cell(0.98, 5.0, 5.0), "b": cell(1.19, 5.0, 5.0)},
                       winner="a", comparisons=[], ranking=["a", "b"], leaders=["a"])
    assert winner_text(memory) == "a (0.98 vs 1.19 GB)"
    calibrated = memory.model_copy(update={"row": "Story Coherence", "kind": "quality", "metric": "coherence",
                                           "direction": "higher", "stars_from": "calibration hanna-coherence",
                                           "models": {"a": cell(0.61, 2.5, 2.61), "b": cell(0.58, 2.5, 2.38)}})
    assert winner_text(calibrated) == "a (2.61 vs 2.38★)"
    differs = memory.model_copy(update={"models": {"a": cell(0.98, 5.0, 5.0), "b": cell(7.0, 3.0, 3.0)}})
    assert winner_text(differs) == "a"  # the stars already say it
