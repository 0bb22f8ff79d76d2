"""The score cache and the judge cache under real processes (issue 24): two `evalkit score` runs at once on
one results folder lose no entry and store none twice, and `kill -9` mid-scoring resumes without scoring
again what was stored. Here rather than in tests/test_score_cache.py because the slow judge that makes a
run last long enough to overlap or kill is this folder's judge server (--delay)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from judge_data import models_file

pytestmark = pytest.mark.slow
RUBRICS = 5
TEXTS = [f"Story {n}: a fox named Pip found {n} shiny stones by the river and shared them with {n % 7} friends."
         for n in range(48)]


def _stories(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"s{TEXTS.index(t)}", "story": t}) + "\n" for t in texts))
    return path


def _score(cwd: Path, stories: Path, mf: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "evalkit.cli", "score", str(stories), "--suite", "none",
                             "--scorers", "repetition", "--judge", "server-judge", "--models-file", str(mf),
                             "-o", str(out)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _keys(path: Path) -> list[str]:
    return [json.loads(x)["key"] for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _judge_cache(cwd: Path) -> Path:
    found = list((cwd / "results" / ".cache" / "judge").glob("*.jsonl"))
    return found[0] if found else cwd / "missing.jsonl"


def _questions(server) -> int:
    return sum("Criterion:" in json.dumps(r["body"]) for r in server.requests())


def test_two_concurrent_score_runs_lose_no_entry_and_duplicate_none(judge_server, tmp_path):
    server = judge_server("logprobs", delay=0.03)
    mf = models_file(tmp_path, server.base_url)
    first, second = _stories(tmp_path / "a.jsonl", TEXTS[:30]), _stories(tmp_path / "b.jsonl", TEXTS[18:])
    procs = [_score(tmp_path, first, mf, tmp_path / "a.out"), _score(tmp_path, second, mf, tmp_path / "b.out")]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        assert "warning" not in err, err[-3000:]
    for out, n in ((tmp_path / "a.out", 30), (tmp_path / "b.out", 30)):
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        assert len(rows) == n and all(r["judge_coherence"] is not None and r["seq_rep_4"] is not None for r in rows)
    cache = tmp_path / "results" / ".cache" / "scores"
    for scorer in ("repetition", "judge"):
        keys = _keys(cache / f"{scorer}.jsonl")
        assert len(keys) == len(TEXTS) and len(set(keys)) == len(keys), (scorer, Counter(keys).most_common(2))
    answers = _keys(_judge_cache(tmp_path))
    assert len(answers) == len(TEXTS) * RUBRICS and len(set(answers)) == len(answers)


def test_kill_9_mid_scoring_resumes_without_scoring_what_was_stored(judge_server, tmp_path):
    server = judge_server("logprobs", delay=0.03)
    mf = models_file(tmp_path, server.base_url)
    stories = _stories(tmp_path / "s.jsonl", TEXTS)
    scores = tmp_path / "results" / ".cache" / "scores" / "judge.jsonl"
    proc = _score(tmp_path, stories, mf, tmp_path / "s.out")
    deadline = time.monotonic() + 300
    try:
        while len(_keys(scores)) < 16:  # the first chunk of stories is stored
            if proc.poll() is not None:
                pytest.fail(f"scoring ended before it was killed: {proc.stderr.read()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("nothing scored within 300 s")
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(_keys(scores)) < len(TEXTS), "the run finished before the kill: nothing to resume"
    stored_stories, stored_answers = len(_keys(scores)), len(_keys(_judge_cache(tmp_path)))
    asked_before = _questions(server)
    res = _score(tmp_path, stories, mf, tmp_path / "s.out")
    _, err = res.communicate(timeout=600)
    assert res.returncode == 0, err[-3000:]
    asked_again = _questions(server) - asked_before
    assert asked_again == len(TEXTS) * RUBRICS - stored_answers  # every stored answer reused
    assert asked_again <= (len(TEXTS) - stored_stories) * RUBRICS  # no stored story judged again
    rows = [json.loads(x) for x in (tmp_path / "s.out").read_text().splitlines()]
    assert len(rows) == len(TEXTS) and all(r["judge_coherence"] is not None for r in rows)
    for path, n in ((scores, len(TEXTS)), (_judge_cache(tmp_path), len(TEXTS) * RUBRICS)):
        keys = _keys(path)
        assert len(keys) == n and len(set(keys)) == n
