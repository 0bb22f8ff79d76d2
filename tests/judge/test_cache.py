"""Judge calls survive kill -9: a rerun asks only what is missing, nothing is judged twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from evalkit.judge.judge import configure_judge
from evalkit.judge.rubric import load_rubrics
from evalkit.scorers.base import StoryInput

pytestmark = pytest.mark.slow
STORY_TEXTS = [f"Story {n}: a fox named Pip found {n} shiny stones by the river." for n in range(8)]

CHILD = textwrap.dedent("""
    import sys, time
    from evalkit.judge.judge import configure_judge
    from evalkit.judge.rubric import load_rubrics
    from evalkit.scorers.base import StoryInput
    model, cache, texts = sys.argv[1], sys.argv[2], sys.argv[3:]
    judge = configure_judge(model, cache_dir=cache, batch_size=1)
    stories = [StoryInput(text=t, id=str(i)) for i, t in enumerate(texts)]
    print("ready", flush=True)
    judge.rate(stories, load_rubrics(), progress=lambda done, total: time.sleep(0.4))  # slow: killable mid-run
""")


def _keys(path):
    return [json.loads(line)["key"] for line in path.read_text().splitlines() if line.strip()]


def test_kill_9_mid_run_then_resume_judges_nothing_twice(judge_llama_dir, tmp_path):
    cache = tmp_path / ".cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(judge_llama_dir), str(cache), *STORY_TEXTS],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    files = cache / "judge"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            found = list(files.glob("*.jsonl")) if files.is_dir() else []
            if found and len(_keys(found[0])) >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"child ended before it was killed: {proc.stderr.read()[-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("the child judged nothing within 240 s")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    total = len(STORY_TEXTS) * len(load_rubrics())
    before = _keys(found[0])
    assert 3 <= len(before) < total  # killed mid-run

    judge = configure_judge(str(judge_llama_dir), cache_dir=cache, batch_size=1)
    rated = judge.rate([StoryInput(text=t, id=str(i)) for i, t in enumerate(STORY_TEXTS)], load_rubrics())
    assert judge.asked == total - len(set(before))
    assert judge.engine.forward_calls == total - len(set(before))
    after = _keys(found[0])
    assert len(after) == len(set(after)) == total  # every question once
    assert all(1 <= r.value <= 5 for per in rated for r in per.values())
