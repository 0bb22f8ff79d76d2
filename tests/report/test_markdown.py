"""report.md, the rich tables and `evalkit report RUN` on a stored, scored run (no model loaded)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from evalkit.pipeline import rate_run, report_run
from evalkit.rating import ROWS
from evalkit.report.markdown import md_escape

REPO = Path(__file__).resolve().parents[2]


def _table(md: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table under ``heading`` (escaped pipes stay inside cells)."""
    section = md.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0].splitlines()
    start = next(n for n, line in enumerate(section) if line.startswith("|"))
    rows = []
    for line in section[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").replace("\\|", "\0").split("|")]
        rows.append([c.replace("\0", "\\|") for c in cells])
    return [r for r in rows if not set("".join(r)) <= {"-"}]


def test_report_md_rebuilds_the_seed_table_with_numbers_and_provenance(scored_run: Path) -> None:
    md_path, html_path = report_run(scored_run)[1:]
    md = md_path.read_text(encoding="utf-8")
    stars = _table(md, "Star ratings")
    assert stars[0] == ["Metric", "storyteller", "parrot", "Winner"]
    assert [r[0].strip("*") for r in stars[1:]] == list(ROWS)  # the seed's eight rows, in its order
    by_row = {r[0].strip("*"): r for r in stars[1:]}
    # Vocabulary Richness has a shipped calibration (hanna-mtld): its stars are the mean of each story's mtld_stars
    from evalkit.rating import stars
    from evalkit.report.format import stars_text
    from evalkit.scoring import load_scores

    recs = load_scores(scored_run)
    want = [stars_text(stars(sum(r.scores["mtld_stars"] for r in recs if r.model == m) / sum(r.model == m for r in recs)))
            for m in ("storyteller", "parrot")]
    assert by_row["Vocabulary Richness"][1:] == [*want, "storyteller"] and want[0] != want[1]
    assert "calibrated on people's ratings: hanna\\_dev.csv Complexity" in md and "adult short fiction" in md
    assert by_row["Overall Quality"][3] == "**storyteller**"
    assert by_row["Creativity"][1:] == ["n/a", "n/a", "n/a"]  # no creativity scorer ran: never invented
    assert by_row["Training Time"][2] == "n/a" and by_row["Training Time"][1].startswith("★")
    numbers = {r[0]: r for r in _table(md, "Numbers")}
    assert numbers["Metric"][4] == "storyteller − parrot [95% CI]"
    speed = numbers["Inference Speed"]
    assert speed[2].startswith("0.5") and "[" in speed[2] and speed[4].startswith("-5.") and "could not be seen with 5 prompts × 1 sample" in speed[5]
    assert "one value each" in numbers["Memory Efficiency"][4] and "10%" in numbers["Memory Efficiency"][5]
    prov = md.splitlines()[2]
    assert "Weights (Overall Quality): Story Coherence" in prov and "Creativity (n/a, left out)" in prov
    assert "Device: cpu \\(2 cores, Test CPU\\)" in prov or "Device: cpu (2 cores, Test CPU)" in prov
    assert "Suite: smoke" in prov and "split test, 5 stories" in prov
    anchors = {r[0]: r for r in _table(md, "How stars are given")}
    assert anchors["Vocabulary Richness"][5] == "5" and anchors["Vocabulary Richness"][4].startswith("looped")
    source = {r[0]: r for r in _table(md, "Where each quality row's stars come from")}
    assert source["Vocabulary Richness"][2].startswith("calibrated on people's ratings")
    assert source["Story Coherence"][2].startswith("suite anchors") and source["Story Coherence"][3].startswith("references beat")
    assert "(no training record)" in md.split("## Notes", 1)[1].replace("\\(", "(").replace("\\)", ")")


def test_reports_are_identical_when_rebuilt_even_without_rating_json(scored_run: Path) -> None:
    md, html = report_run(scored_run)[1:]
    before = md.read_bytes(), html.read_bytes()
    report_run(scored_run)[1:]
    assert (md.read_bytes(), html.read_bytes()) == before
    (scored_run / "rating.json").unlink()  # rebuilt from the stored scores; its clock never reaches a report
    report_run(scored_run)
    assert (scored_run / "rating.json").exists() and (md.read_bytes(), html.read_bytes()) == before


def test_untrusted_labels_cannot_break_tables(tmp_path: Path, run_builder) -> None:
    assert md_escape("a|b <script>*x*</script> [l](u)") == "a\\|b &lt;script&gt;\\*x\\*&lt;/script&gt; \\[l\\](u)"
    run = run_builder(tmp_path, labels=("big|model <b>", "[red]x*"))
    md_path, _ = report_run(run)[1:]
    md = md_path.read_text(encoding="utf-8")
    stars = _table(md, "Star ratings")
    assert all(len(r) == 4 for r in stars) and "<b>" not in md and "big\\|model &lt;b&gt;" in stars[0][1]


def test_print_tables_shows_stars_numbers_and_winner(scored_run: Path) -> None:
    from rich.console import Console

    from evalkit.report.console import print_tables

    console = Console(record=True, width=220, color_system=None)
    print_tables(console, rate_run(scored_run))
    text = console.export_text()
    star_part = text.split("Numbers:", 1)[0]
    lines = {line.split("│")[1].strip(): line for line in star_part.splitlines() if line.count("│") >= 4}
    assert all(row in lines for row in ROWS)
    assert "★★★★★" in lines["Story Coherence"] and "storyteller" in lines["Overall Quality"]  # anchors: no calibration
    numbers = {line.split("│")[1].strip(): line for line in text.split("Numbers:", 1)[1].splitlines() if line.count("│") >= 4}
    assert "0.52 [0.5" in numbers["Inference Speed"]  # speeds are fixed in the stored generations
    assert re.search(r"│ \+\d+\.\d+★ \[\d+\.\d+, \d+\.\d+\] \*", numbers["Vocabulary Richness"])  # diff [CI], significant
    flat = " ".join(text.split())
    assert "Weights: Story Coherence" in flat and "device: cpu (2 cores, Test CPU)" in flat


def _evalkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_evalkit_report_command_rebuilds_without_generating(tmp_path: Path, run_builder) -> None:
    run = run_builder(tmp_path)
    gens = (run / "generations.jsonl").read_bytes()
    res = _evalkit("report", run.name, "--results-dir", str(run.parent), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Overall Quality" in res.stdout and (run / "rating.json").exists()
    first = (run / "report.md").read_bytes(), (run / "report.html").read_bytes()
    res = _evalkit("report", str(run), cwd=tmp_path)  # a run folder works too
    assert res.returncode == 0 and ((run / "report.md").read_bytes(), (run / "report.html").read_bytes()) == first
    assert (run / "generations.jsonl").read_bytes() == gens
    bad = _evalkit("report", "no-such-run", "--results-dir", str(run.parent), cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: no run 'no-such-run'")
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_evalkit_report_scores_stored_stories_when_scores_are_missing(tmp_path: Path, run_builder) -> None:
    run = run_builder(tmp_path)
    for name in ("scores.jsonl", "summary.json", "rating.json"):
        (run / name).unlink(missing_ok=True)
    res = _evalkit("report", str(run), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (run / "scores.jsonl").exists() and (run / "rating.json").exists() and (run / "report.md").exists()
