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


def _record(n: int, judge_key: str = "j1"):
    from evalkit.judge.cache import JudgeRecord

    return JudgeRecord(key=f"k{n}", judge_key=judge_key, kind="rating", rubric="coherence", rubric_hash="r",
                       story_hash=f"s{n}", value=3.0 + n / 10, method="logits", probs={"3": 0.5, "4": 0.5})


@pytest.mark.parametrize("how, why", [
    ("torn", "not JSON: torn or edited"),
    ("foreign", "not a JudgeRecord record"),
    ("other-judge", "an answer of another judge (j2)"),
    ("hand-edited", "does not match its checksum: edited by hand"),
])
def test_a_damaged_judge_cache_line_is_warned_about_skipped_and_removed(tmp_path, capsys, how, why):
    from evalkit.judge.cache import JudgeCache

    JudgeCache(tmp_path, "j1").add([_record(n) for n in range(3)])
    path = tmp_path / "judge" / "j1.jsonl"
    lines = path.read_text().splitlines()
    rec = json.loads(lines[1])
    lines[1] = {"torn": lines[1][:40], "foreign": json.dumps({"story": "a story", "id": "x"}),
                "other-judge": json.dumps({**rec, "judge_key": "j2"}),
                "hand-edited": json.dumps({**rec, "value": 5.0})}[how]
    path.write_text("\n".join(lines) + "\n")
    cache = JudgeCache(tmp_path, "j1")
    assert sorted(cache.records) == ["k0", "k2"]  # k1 will be asked again
    (err,) = capsys.readouterr().err.splitlines()
    assert err.startswith(f"warning: {path}:2: skipped a damaged cache line (") and why in err
    assert [json.loads(x)["key"] for x in path.read_text().splitlines()] == ["k0", "k2"]
    cache.add([_record(1), _record(2)])  # k2 is there already: stored once
    assert sorted(json.loads(x)["key"] for x in path.read_text().splitlines()) == ["k0", "k1", "k2"]
    assert sorted(JudgeCache(tmp_path, "j1").records) == ["k0", "k1", "k2"] and capsys.readouterr().err == ""
