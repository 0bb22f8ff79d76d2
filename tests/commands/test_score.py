import json
import os
import subprocess
import sys

import pytest

from evalkit.commands.score import make_scorers, read_stories, score_file
from evalkit.errors import EvalkitError
from evalkit.suites import load_suite

STORY = ("Kofi found a map in the attic. He showed it to Grandma Ines, who packed apples and a rope. "
         "They climbed Blue Peak together, crossed a stream on stepping stones and reached the star at the top. "
         "Kofi drew a new star beside the old one.")


def _cli(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "evalkit.cli", "score", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300, cwd=cwd)


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_cli_writes_one_flat_line_per_story(tmp_path):
    src = _write(tmp_path / "s.jsonl", [
        {"id": "a", "story": STORY, "characters": ["Kofi", {"name": "Grandma Ines"}], "prompt": "A map."},
        {"story": STORY + " " + "They went home. " * 6},
        "",
        {"id": 7, "story": ""},
    ])
    out = tmp_path / "out" / "scores.jsonl"
    res = _cli(src, "--suite", "none", "-o", out, "--scorers", "repetition,vocabulary,characters,reading_level")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "line2", "7"]
    assert rows[0]["character_coverage"] == 1.0 and rows[1]["character_coverage"] is None
    assert rows[1]["seq_rep_4"] > rows[0]["seq_rep_4"]
    assert rows[2]["mtld"] is None and "not scorable" in rows[2]["notes"]["mtld"]
    assert all(isinstance(v, (float, type(None))) for r in rows for k, v in r.items() if k not in ("id", "notes"))


def test_cli_bad_lines_exit_2_with_file_and_line(tmp_path):
    src = _write(tmp_path / "bad.jsonl", [{"story": "fine"}, "{not json", {"text": "no story key"}, "[1, 2]",
                                          {"story": "x", "characters": 5}])
    res = _cli(src, "--suite", "none", "--scorers", "repetition")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error: 4 bad line(s)")
    for n in (2, 3, 4, 5):
        assert f"bad.jsonl:{n}:" in line
    assert _cli(tmp_path / "missing.jsonl", "--scorers", "repetition").returncode == 2
    res = _cli(src, "--suite", "none", "--scorers", "nope")
    assert res.returncode == 2 and "unknown scorer" in res.stderr


def test_suite_ids_fill_missing_fields_and_models_group_corpus_scores(tmp_path):
    suite = load_suite("smoke")
    item = suite.items[0]
    src = _write(tmp_path / "s.jsonl", [
        {"id": item.id, "story": item.story, "model": "m1"},
        {"id": "x1", "story": "The moon rabbit baked bread for the stars.", "model": "m2"},
        {"id": "x2", "story": "The moon rabbit baked bread for the stars.", "model": "m2"},
    ])
    rows = read_stories(src, suite)
    assert rows[0][1].genre == item.genre and rows[0][1].characters == item.characters
    assert rows[0][1].reference == item.story
    from evalkit.scorers.creativity import CreativityScorer

    scores = score_file(src, suite, [CreativityScorer()] + make_scorers(["characters"]))
    assert scores[0]["model"] == "m1" and scores[0]["self_bleu"] is None  # alone in its group
    assert scores[1]["self_bleu"] == pytest.approx(1.0) and scores[0]["character_coverage"] == 1.0


def test_read_stories_rejects_empty_files(tmp_path):
    with pytest.raises(EvalkitError, match="no stories"):
        read_stories(_write(tmp_path / "e.jsonl", ["", "  "]))
