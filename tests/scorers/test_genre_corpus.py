"""The shipped genre corpus meets persona-tales' standards and its data card is current."""

import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import genre_corpus  # noqa: E402

GENRES = ["Adventure & Exploration", "Fantasy", "Mystery", "Mythology", "Sci-Fi"]


def test_every_rule_holds_and_datacard_is_current():
    assert genre_corpus.check_corpus() == []
    assert genre_corpus.main(["stats", "--check"]) == 0


def test_locked_test_part_and_counts():
    rows = genre_corpus.load()
    assert len({r["id"] for r in rows}) == len(rows)
    test = Counter(r["genre"] for r in rows if r["part"] == "test")
    assert set(test) == set(GENRES) and min(test.values()) >= 15
    mixed = sum(r["mixed_cue"] for r in rows) / len(rows)
    assert 0.3 <= mixed <= 0.5


def test_checker_catches_a_shared_sentence_and_a_leak(tmp_path):
    rows = genre_corpus.load()
    checker = genre_corpus.Checker()
    checker.accept(rows[0])
    copy = dict(rows[1], id="x-copy", story=rows[1]["story"] + " " + rows[0]["story"].split(". ")[0] + ".")
    assert any("first 12 words" in p or "sentence shared" in p or "6-gram" in p for p in checker.problems(copy))
    persona = json.loads(next(ln for ln in (REPO / "suites/persona-tales/stories.jsonl").read_text().splitlines()
                              if '"split": "test"' in ln))
    leak = dict(rows[1], id="x-leak", story=rows[1]["story"] + " " + " ".join(persona["story"].split()[20:40]))
    assert any("persona-tales test" in p or "sentence shared" in p for p in genre_corpus.Checker().problems(leak))
    assert genre_corpus.format_problems(dict(rows[0], genre="Western"))
