"""The persona-tales suite meets issue 3's rules (the same checks the writers ran, via scripts/)."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from evalkit.suites import load_suite

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import check_stories  # noqa: E402

GENRES = ["Adventure & Exploration", "Fantasy", "Mystery", "Mythology", "Sci-Fi"]


@pytest.fixture(scope="module")
def suite():
    return load_suite("persona-tales")


def test_loads_with_exact_counts(suite):
    assert len(suite.items) == 100 and len({i.id for i in suite.items}) == 100
    assert Counter(i.split for i in suite.items) == {"train": 81, "validation": 9, "test": 10}
    assert Counter(i.genre for i in suite.items) == {g: 20 for g in GENRES}
    assert Counter(i.genre for i in suite.split("test")) == {g: 2 for g in GENRES}
    assert all(1 <= len(i.characters) <= 4 for i in suite.items)


def test_every_character_named_in_own_story(suite):
    missing = [(i.id, c.name) for i in suite.items for c in i.characters if c.name not in i.story]
    assert missing == []


def test_story_rules_hold(capsys):
    """Words 180-400, FK grade 1-6, no shared sentence > 8 words, unique first 12 words, no test/train
    6-gram outside stock phrases."""
    rc = check_stories.main([str(REPO / "suites/persona-tales/stories.jsonl")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "0 problems" in out


def test_checker_catches_planted_problems(tmp_path, capsys):
    import json

    lines = (REPO / "suites/persona-tales/stories.jsonl").read_text().splitlines()
    test_item = next(json.loads(x) for x in lines if json.loads(x)["split"] == "test")
    train_item = next(json.loads(x) for x in lines if json.loads(x)["split"] == "train")
    test_item["story"] += " " + " ".join(train_item["story"].split()[20:30])
    f = tmp_path / "s.jsonl"
    f.write_text(json.dumps(train_item) + "\n" + json.dumps(test_item) + "\n")
    assert check_stories.main([str(f)]) == 1
    assert "shares 6-gram" in capsys.readouterr().out


def test_datacard_statistics_match_the_data():
    res = subprocess.run([sys.executable, str(REPO / "scripts/persona_tales_stats.py"), "--check"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_default_suite_is_persona_tales():
    from evalkit.suites import default_suite_name

    assert default_suite_name() == "persona-tales"
