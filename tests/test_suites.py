import json
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError, SuiteError
from evalkit.suites import load_suite

SMOKE = Path(__file__).resolve().parent.parent / "suites" / "smoke"


def copy_suite(tmp_path: Path) -> Path:
    dst = tmp_path / "suite"
    dst.mkdir(parents=True)
    for name in ("suite.toml", "stories.jsonl"):
        (dst / name).write_bytes((SMOKE / name).read_bytes())
    return dst


def test_smoke_suite_loads_one_item_per_genre():
    s = load_suite("smoke")
    assert len(s.items) == 5
    assert sorted(i.genre for i in s.items) == sorted(s.genres)
    assert len(s.split("test")) == 5
    assert "[GENRE] Adventure & Exploration" in s.render(s.items[0], "base")


def test_every_problem_reported_with_file_and_line(tmp_path):
    d = copy_suite(tmp_path)
    lines = (d / "stories.jsonl").read_text().splitlines()
    bad = json.loads(lines[1])
    bad["genre"] = "Horror"
    del bad["prompt"]
    lines[1] = json.dumps(bad)
    lines[3] = "{not json"
    lines.append(lines[0])  # duplicate id
    (d / "stories.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(SuiteError) as e:
        load_suite(d)
    problems = e.value.problems
    assert any(p.endswith("stories.jsonl:2: missing 'prompt'") for p in problems)
    assert any(":4: not valid JSON" in p for p in problems)
    assert any(":6: duplicate id" in p for p in problems)


def test_bad_toml_and_unknown_genre(tmp_path):
    d = copy_suite(tmp_path)
    (d / "suite.toml").write_text("name = \n")
    with pytest.raises(SuiteError, match="suite.toml"):
        load_suite(d)
    d2 = copy_suite(tmp_path / "b")
    lines = (d2 / "stories.jsonl").read_text().splitlines()
    item = json.loads(lines[0])
    item["genre"] = "Horror"
    (d2 / "stories.jsonl").write_text(json.dumps(item) + "\n")
    with pytest.raises(SuiteError, match=r"stories.jsonl:1: genre 'Horror' is not declared"):
        load_suite(d2)


def test_unknown_and_empty_split():
    s = load_suite("smoke")
    with pytest.raises(EvalkitError, match="unknown split 'dev'"):
        s.split("dev")
    with pytest.raises(EvalkitError, match="split 'train' of suite 'smoke' is empty"):
        s.split("train")


def test_unknown_suite_lists_builtins():
    with pytest.raises(EvalkitError, match="built-in suites: .*smoke"):
        load_suite("no-such-suite")


def test_hash_changes_with_content(tmp_path):
    d = copy_suite(tmp_path)
    h1 = load_suite(d).hash
    (d / "stories.jsonl").write_text((d / "stories.jsonl").read_text().replace("Kofi", "Kwame"))
    assert load_suite(d).hash != h1
