"""Run history: `evalkit runs` lists the store and flags runs that did not finish or are damaged."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from evalkit.cli import cli
from evalkit.history import inspect_run, process_alive, scan_runs
from evalkit.records import GenerationParams, Manifest, ModelRun, SuiteRef, utcnow, write_json


def manifest(run_id: str, status: str = "complete", created: str = "2025-05-01T08:00:00Z", pid: int | None = None,
             host: str | None = None, sha: str | None = "0123456789abcdef") -> Manifest:
    return Manifest(run_id=run_id, created=created, status=status, evalkit_version="0.1.0", python="3.11", git_sha=sha,
                    params=GenerationParams(), pid=pid, host=host or socket.gethostname(),
                    suite=SuiteRef(name="smoke", path="suites/smoke", hash="h", split="test", item_ids=["x"]),
                    models=[ModelRun(label="gemma3-270m", spec={}, model_key="k"), ModelRun(label="smollm2", spec={}, model_key="j")])


def write_run(results: Path, m: Manifest, summary: bool = True) -> Path:
    run = results / m.run_id
    write_json(run / "manifest.json", m)
    if summary:
        write_json(run / "summary.json", {"schema": "evalkit.summary/1"})
    return run


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    r = tmp_path / "results"
    write_run(r, manifest("r1-complete", created="2025-05-01T08:00:00Z"))
    write_run(r, manifest("r2-live", "running", utcnow(), pid=os.getpid()), summary=False)
    write_run(r, manifest("r3-dead", "running", "2025-05-01T09:00:00Z", pid=dead_pid()), summary=False)
    write_run(r, manifest("r4-interrupted", "interrupted", "2025-05-01T10:00:00Z"), summary=False)
    write_run(r, manifest("r5-unscored", created="2025-05-01T11:00:00Z", pid=dead_pid()), summary=False)
    torn = write_run(r, manifest("r6-torn-summary", created="2025-05-01T12:00:00Z"))
    (torn / "summary.json").write_text('{"schema": "evalkit.summ')
    bad = r / "r7-no-manifest"
    bad.mkdir()
    (bad / "generations.jsonl").write_text("{}\n")
    half = r / "r8-half-manifest"
    half.mkdir()
    (half / ".manifest.json.x1y2.tmp").write_text('{"run_id": "r8')  # killed before the rename
    (r / "baselines").mkdir()
    (r / "baselines" / "manifest.json").write_text("not a run")
    (r / "empty-folder").mkdir()
    return r


def test_states(store: Path):
    runs = {r.run_id: r for r in scan_runs(store)}
    assert [r.run_id for r in scan_runs(store)][:2] == ["r7-no-manifest", "r8-half-manifest"]  # no date: first
    assert set(runs) == {"r1-complete", "r2-live", "r3-dead", "r4-interrupted", "r5-unscored", "r6-torn-summary",
                         "r7-no-manifest", "r8-half-manifest"}
    state = {k: v.state for k, v in runs.items()}
    assert state == {"r1-complete": "complete", "r2-live": "running", "r3-dead": "unfinished",
                     "r4-interrupted": "unfinished", "r5-unscored": "unfinished", "r6-torn-summary": "damaged",
                     "r7-no-manifest": "damaged", "r8-half-manifest": "damaged"}
    assert runs["r1-complete"].models == ["gemma3-270m", "smollm2"] and runs["r1-complete"].git_sha.startswith("0123")
    assert "is gone" in runs["r3-dead"].problems[0]
    assert runs["r7-no-manifest"].problems == ["manifest.json: missing"]
    assert "damaged JSON" in runs["r6-torn-summary"].problems[0]
    assert "never scored" in runs["r5-unscored"].problems[0]


def test_reused_pid_is_not_alive():
    me = psutil.Process(os.getpid())
    assert process_alive(os.getpid(), utcnow())
    # a run that began an hour before this process: the pid now belongs to someone else
    from datetime import datetime, timedelta, timezone

    before = (datetime.fromtimestamp(me.create_time(), timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not process_alive(os.getpid(), before)
    assert not process_alive(dead_pid(), None)


def test_other_host_is_not_judged(tmp_path: Path):
    run = write_run(tmp_path, manifest("r", "running", pid=1, host="some-other-host"), summary=False)
    e = inspect_run(run)
    assert e.state == "running" and "cannot check" in e.problems[0]


def test_cli_table_and_json(store: Path):
    res = CliRunner().invoke(cli, ["runs", str(store)])
    assert res.exit_code == 0, res.output
    assert "r3-dead" in res.stdout and "unfinished" in res.stdout and "damaged" in res.stdout
    assert "6 run(s) did not finish or are damaged" in res.stderr
    res = CliRunner().invoke(cli, ["runs", str(store), "--json"])
    data = json.loads(res.stdout)
    dated = [d["run_id"] for d in data if d["created"]]
    assert dated == ["r1-complete", "r3-dead", "r4-interrupted", "r5-unscored", "r6-torn-summary", "r2-live"]
    res = CliRunner().invoke(cli, ["runs", str(store / "nope")])
    assert res.exit_code != 0
