"""`evalkit report RUN` on a scored run whose generations lost stories (issue 24 item 4): --allow-missing
reports the rest and says which are missing, on the console and in both reports; an interrupted run
simply has fewer stories. (Without --allow-missing it stops with exit 2: tests/test_hostile.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from run_folders import make_run

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def _report(run: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit.cli", "report", str(run), *extra], capture_output=True,
                          text=True, env=ENV, cwd=run.parent, timeout=600)


def _lose_line(run: Path, n: int, torn: bool) -> str:
    """Tear (or delete) line n of generations.jsonl; returns the item whose story is lost."""
    path = run / "generations.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    item = json.loads(lines[n - 1])["item_id"]
    lines[n - 1] = lines[n - 1][: len(lines[n - 1]) // 2] + "\n" if torn else ""
    path.write_text("".join(lines), encoding="utf-8")
    return item


def test_allow_missing_reports_the_rest_and_names_what_is_missing(tmp_path):
    run = make_run(tmp_path)
    item = _lose_line(run, 3, torn=True)
    res = _report(run, "--allow-missing")
    assert res.returncode == 0, res.stderr[-2000:]
    want = f"Missing stories: 1 story of this run has no stored generation and is left out of every number (storyteller: {item})."
    assert want in res.stdout.splitlines()
    md = (run / "report.md").read_text()
    assert "**Missing stories: 1 story of this run has no stored generation" in md and f"(storyteller: {item})" in md
    html = (run / "report.html").read_text()
    assert 'id="missing"' in html and f"storyteller: {item}" in html
    stories = [json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines()]
    assert len(stories) == 10  # the stored scores are kept; the story's generation is what is missing


def test_an_interrupted_run_reports_its_stories_and_lists_the_rest_as_missing(tmp_path):
    run = make_run(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (run / "manifest.json").write_text(json.dumps(manifest))
    item = _lose_line(run, 10, torn=False)
    res = _report(run)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"parrot: {item}" in (run / "report.md").read_text()
