"""The leaderboard across runs: golden Markdown, escaping, determinism, damaged runs skipped."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalkit.cli import cli
from evalkit.leaderboard import build
from evalkit.report.leaderboard import md_escape, render, stars_text
from evalkit.records import GenerationParams, Manifest, ModelRun, Rating, SuiteRef, write_json

GOLDEN = Path(__file__).parent / "golden" / "leaderboard.md"
ROWS = [("Story Coherence", "quality", "coherence", "0-1"), ("Genre Adherence", "quality", "genre_adherence", "0-1"),
        ("Creativity", "quality", "creativity", "0-1"), ("Vocabulary Richness", "quality", "mtld", "MTLD"),
        ("Training Time", "training", "training_hours", "hours"),
        ("Inference Speed", "speed", "seconds_per_story", "s/story"),
        ("Memory Efficiency", "memory", "peak_memory_gb", "GB"), ("Overall Quality", "overall", None, "")]
PIPE = "smollm2|135m <b>*x*</b>"


def cells(q: float, overall: float, training: float | None = None) -> dict[str, tuple[float | None, float | None]]:
    """Row -> (value, stars), derived from one quality level so the numbers stay plausible."""
    star = lambda v: max(1.0, min(5.0, round(v * 2) / 2))  # noqa: E731
    return {"Story Coherence": (q, star(q * 5)), "Genre Adherence": (q - 0.1, star(q * 5 - 0.5)),
            "Creativity": (q / 2, star(q * 2.5)), "Vocabulary Richness": (40 + 50 * q, star(q * 5)),
            "Training Time": (training, None if training is None else 4.0), "Inference Speed": (12.5 - 10 * q, star(q * 4)),
            "Memory Efficiency": (0.42, 5.0), "Overall Quality": (overall, star(overall))}


def make_rated_run(results: Path, run_id: str, created: str, models: dict[str, dict], suite: str = "smoke",
                   rating: bool = True, status: str = "complete", pid: int | None = None) -> Path:
    run = results / run_id
    manifest = Manifest(run_id=run_id, created=created, finished=created, status=status, evalkit_version="0.1.0",
                        python="3.11", params=GenerationParams(), pid=pid, host=socket.gethostname(),
                        suite=SuiteRef(name=suite, path=f"/nowhere/{suite}", hash="h", split="test", item_ids=["a", "b"]),
                        models=[ModelRun(label=x, spec={}, model_key=x) for x in models])
    write_json(run / "manifest.json", manifest)
    write_json(run / "summary.json", {"schema": "evalkit.summary/1", "run_id": run_id, "metrics": {}, "models": {}})
    if rating:
        rows = []
        for name, kind, metric, unit in ROWS:
            rows.append({"row": name, "kind": kind, "metric": metric, "unit": unit, "direction": "higher",
                         "winner": None, "comparisons": [], "ranking": [], "leaders": [],
                         "models": {x: {"value": c[name][0], "ci_low": None if c[name][0] is None else c[name][0] * 0.9,
                                        "ci_high": None if c[name][0] is None else c[name][0] * 1.1, "n": 2,
                                        "stars": c[name][1], "score": c[name][1],
                                        "note": None if c[name][0] is not None else "no training record"}
                                    for x, c in models.items()}})
        # a whole evalkit.records.Rating, as the rating stage writes it (the leaderboard reads the typed record)
        write_json(run / "rating.json", Rating.model_validate({
            "schema": "evalkit.rating/1", "run_id": run_id, "suite": suite, "split": "test", "created": created,
            "device": "cpu (2 cores, Test CPU)", "suite_hash": "h", "n_items": 2, "weights": {}, "anchors": {},
            "models": list(models), "rules": {}, "rows": rows}))
    return run


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    r = tmp_path / "results"
    make_rated_run(r, "20250101-000000-aaaaaa", "2025-01-01T09:00:00Z",
                   {"gemma3-270m": cells(0.50, 2.5), PIPE: cells(0.70, 3.5, training=3.2)})
    make_rated_run(r, "20250201-000000-bbbbbb", "2025-02-01T09:00:00Z", {"gemma3-270m": cells(0.62, 3.1)})
    make_rated_run(r, "20250301-000000-cccccc", "2025-03-01T09:00:00Z", {PIPE: cells(0.66, 3.25, training=3.2)})
    make_rated_run(r, "20250115-000000-dddddd", "2025-01-15T09:00:00Z", {"distilgpt2": cells(0.30, 1.5)},
                   suite="persona-tales")
    # what must be reported and skipped, never trusted
    torn = make_rated_run(r, "20250401-000000-eeeeee", "2025-04-01T09:00:00Z", {"gemma3-270m": cells(0.99, 5.0)})
    (torn / "manifest.json").write_text((torn / "manifest.json").read_text()[:150])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    make_rated_run(r, "20250402-000000-ffffff", "2025-04-02T09:00:00Z", {"gemma3-270m": cells(0.99, 5.0)},
                   status="running", pid=dead.pid)
    make_rated_run(r, "20250403-000000-gggggg", "2025-04-03T09:00:00Z", {"gemma3-270m": cells(0.99, 5.0)}, rating=False)
    half = make_rated_run(r, "20250404-000000-hhhhhh", "2025-04-04T09:00:00Z", {"gemma3-270m": cells(0.99, 5.0)})
    (half / "rating.json").write_text((half / "rating.json").read_text()[:300])
    (r / "20250405-000000-iiiiii").mkdir()
    (r / "20250405-000000-iiiiii" / "generations.jsonl").write_text('{"schema": "evalkit.gen')  # no manifest at all
    (r / "baselines").mkdir()
    (r / "baselines" / "smoke.json").write_text("{}")
    return r


def test_golden_markdown(store: Path):
    warnings: list[str] = []
    text = render(build(store, warn=warnings.append), "md")
    if os.environ.get("EVALKIT_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    assert [w.split(":")[0] for w in warnings] == [
        "skipped run 20250401-000000-eeeeee", "skipped run 20250402-000000-ffffff", "skipped run 20250403-000000-gggggg",
        "skipped run 20250404-000000-hhhhhh", "skipped run 20250405-000000-iiiiii"]
    assert "damaged JSON" in warnings[0] and "process" in warnings[1] and "is gone" in warnings[1]
    assert "no rating.json" in warnings[2] and "damaged JSON" in warnings[3] and "manifest.json: missing" in warnings[4]


def test_table_structure_and_order(store: Path):
    lines = render(build(store), "md").splitlines()
    start = lines.index("## Suite smoke, split test")
    smoke = [x for x in lines[start:] if x.startswith("| 1 ") or x.startswith("| 2 ")]
    # sorted by Overall Quality: the pipe model's latest run (3.25) above gemma's (3.1)
    assert smoke[0].startswith("| 1 | smollm2\\|135m \\<b\\>\\*x\\*\\</b\\> |") and "▼ -0.250" in smoke[0]
    assert smoke[1].startswith("| 2 | gemma3-270m |") and "▲ +0.600" in smoke[1]
    header = next(x for x in lines if x.startswith("| # |"))
    for row in lines:
        if row.startswith("| ") and not row.startswith("| #"):
            # every data row has as many unescaped cell separators as the header
            assert row.replace("\\|", "").count("|") == header.count("|"), row
    assert "| ★★★½ 0.660 |" in smoke[0] and "| n/a |" in smoke[1]  # stars + number; n/a never invented


def test_all_runs_and_other_formats(store: Path):
    lb = build(store, all_runs=True)
    smoke = next(g for g in lb.groups if g.suite == "smoke")
    assert [(e.model, e.run_id[:8]) for e in smoke.entries] == [
        (PIPE, "20250101"), (PIPE, "20250301"), ("gemma3-270m", "20250201"), ("gemma3-270m", "20250101")]
    rows = list(csv.DictReader(io.StringIO(render(lb, "csv"))))
    assert rows[0]["suite"] == "persona-tales" and rows[0]["Training Time value"] == "" and rows[0]["Training Time stars"] == ""
    assert rows[1]["model"] == PIPE and rows[1]["Overall Quality value"] == "3.5" and rows[1]["overall_delta"] == ""
    assert rows[2]["overall_delta"] == "-0.25" and rows[2]["previous_run"] == "20250101-000000-aaaaaa"
    data = json.loads(render(lb, "json"))
    assert [s["run"] for s in data["skipped"]][0] == "20250401-000000-eeeeee"
    page = render(lb, "html")
    assert "smollm2|135m &lt;b&gt;*x*&lt;/b&gt;" in page and "<b>*x*" not in page
    assert 'class="down">▼ -0.250' in page and 'class="up">▲ +0.600' in page


def test_deterministic_and_location_independent(store: Path, tmp_path: Path):
    copy = tmp_path / "elsewhere" / "results"
    shutil.copytree(store, copy)
    for fmt in ("md", "csv", "json", "html"):
        assert render(build(store), fmt) == render(build(copy), fmt)


def test_cli_writes_file_and_reports_skips(store: Path, tmp_path: Path):
    out = tmp_path / "board.html"
    res = CliRunner().invoke(cli, ["leaderboard", str(store), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert "skipped run 20250401-000000-eeeeee" in res.stderr and "wrote" in res.stderr
    res = CliRunner().invoke(cli, ["leaderboard", str(store), "--format", "md", "--all"])
    assert res.exit_code == 0 and res.stdout.startswith("# evalkit leaderboard")
    res = CliRunner().invoke(cli, ["leaderboard", str(tmp_path / "missing")])
    assert res.exit_code != 0


def test_markdown_parses_as_intended(store: Path):
    """A CommonMark + GFM-table parser sees one cell per column and the model name as plain text."""
    from markdown_it import MarkdownIt

    page = MarkdownIt("commonmark").enable("table").render(render(build(store), "md"))
    rows = page.split("<tr>")[1:]
    assert rows and {len(re.findall(r"<t[hd][ >]", r)) for r in rows} == {13}
    assert "<td>smollm2|135m &lt;b&gt;*x*&lt;/b&gt;</td>" in page and "<b>" not in page and "<em>" not in page


def test_escaping_helpers():
    assert md_escape("a|b\nc") == "a\\|b c"
    assert md_escape("[x](javascript:1) <img>") == "\\[x\\](javascript:1) \\<img\\>"
    assert [stars_text(s) for s in (1, 2.5, 5, None)] == ["★", "★★½", "★★★★★", ""]


def test_a_rating_that_is_not_the_typed_record_is_skipped_with_the_reason(tmp_path: Path):
    """The leaderboard reads rating.json as evalkit.records.Rating: a misspelt or missing key is named, never ranked."""
    r = tmp_path / "results"
    good = make_rated_run(r, "20250101-000000-aaaaaa", "2025-01-01T09:00:00Z", {"gemma3-270m": cells(0.5, 2.5)})
    bad = make_rated_run(r, "20250102-000000-bbbbbb", "2025-01-02T09:00:00Z", {"distilgpt2": cells(0.9, 4.5)})
    data = json.loads((bad / "rating.json").read_text())
    data["rows"][0]["models"]["distilgpt2"]["stras"] = data["rows"][0]["models"]["distilgpt2"].pop("stars")
    (bad / "rating.json").write_text(json.dumps(data))
    warnings: list[str] = []
    lb = build(r, warn=warnings.append)
    assert [e.model for g in lb.groups for e in g.entries] == ["gemma3-270m"] and good.name in lb.groups[0].entries[0].run_id
    assert len(warnings) == 1 and bad.name in warnings[0]
    assert "damaged rating (2 problem(s); first: rows.0.models.distilgpt2.stars: Field required)" in warnings[0]
