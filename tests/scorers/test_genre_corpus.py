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
    total = Counter(r["genre"] for r in rows)
    assert set(total) == set(GENRES) and min(total.values()) >= 60  # issue 14: at least 60 per genre
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


def test_merge_add_keeps_the_shipped_stories_and_checks_new_drafts(tmp_path, monkeypatch):
    import random

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("stories.jsonl", "merge_log.json"):
        (corpus / name).write_bytes((genre_corpus.CORPUS / name).read_bytes())
    monkeypatch.setattr(genre_corpus, "CORPUS", corpus)
    monkeypatch.setattr(genre_corpus, "STORIES", corpus / "stories.jsonl")
    monkeypatch.setattr(genre_corpus, "MERGE_LOG", corpus / "merge_log.json")
    before = genre_corpus.load()
    log_before = json.loads((corpus / "merge_log.json").read_text())
    rng = random.Random(0)
    fresh = " ".join(f"{rng.choice('bcdfg')}{rng.choice('aeiou')}{rng.choice('klmnp')}{k}" for k in range(200)) + "."
    test_row = next(r for r in before if r["part"] == "test")
    new = dict(before[0], id="writer9-train-adv-01", story=fresh, part="train", writer="writer9")
    leak = dict(before[0], id="writer9-train-adv-02", story=test_row["story"], part="train", writer="writer9")
    drafts = tmp_path / "drafts" / "writer9"
    drafts.mkdir(parents=True)
    (drafts / "train.jsonl").write_text(json.dumps(new) + "\n" + json.dumps(leak) + "\n")
    assert genre_corpus.main(["merge", "--add", str(drafts.parent)]) == 0
    after = genre_corpus.load()
    assert after[: len(before)] == before and [r["id"] for r in after[len(before):]] == ["writer9-train-adv-01"]
    log = json.loads((corpus / "merge_log.json").read_text())
    assert log["read"] == log_before["read"] + 2 and log["kept"] == len(before) + 1
    assert log["dropped"][:-1] == log_before["dropped"] and log["dropped"][-1]["id"] == "writer9-train-adv-02"
    # a draft that reuses a shipped id is refused outright
    (drafts / "train.jsonl").write_text(json.dumps(before[0]) + "\n")
    assert genre_corpus.main(["merge", "--add", str(drafts.parent)]) == 2
    assert genre_corpus.load() == after
