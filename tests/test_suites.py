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


def test_non_utf8_bytes_are_named_by_line_not_replaced(tmp_path):
    d = copy_suite(tmp_path)
    lines = (d / "stories.jsonl").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"a", b"\xff", 1)  # Latin-1 byte inside a story
    (d / "stories.jsonl").write_bytes(b"\n".join(lines))
    with pytest.raises(SuiteError) as e:
        load_suite(d)
    assert len(e.value.problems) == 1
    assert e.value.problems[0].startswith(f"{d / 'stories.jsonl'}:3: not UTF-8 text (byte 0xff")


def test_a_byte_order_mark_is_not_content(tmp_path):
    d = copy_suite(tmp_path)
    for name in ("suite.toml", "stories.jsonl"):
        (d / name).write_bytes(b"\xef\xbb\xbf" + (d / name).read_bytes())
    s = load_suite(d)
    assert [i.id for i in s.items] == [i.id for i in load_suite("smoke").items]
    (d / "suite.toml").write_bytes(b"\xef\xbb\xbf" + b"name = \"x\"\n\xfe = 1\n")
    with pytest.raises(SuiteError, match=r"suite.toml:2: not UTF-8 text"):
        load_suite(d)


@pytest.mark.parametrize("templates, message", [
    ('templates = "base"\n', r"\[templates\] must be a table of name = \"text\", not str"),
    ("[templates]\nbase = 3\n", r"template 'base' must be a string, not int"),
    ("[templates]\nchat = [\"a\"]\n", r"template 'chat' must be a string, not list"),
])
def test_templates_must_be_a_table_of_strings(tmp_path, templates, message):
    d = copy_suite(tmp_path)
    text = (d / "suite.toml").read_text()
    assert "[templates]" not in text and "templates =" not in text
    # top-level keys must come before the first table header
    (d / "suite.toml").write_text(templates + text if not templates.startswith("[") else text + "\n" + templates)
    with pytest.raises(SuiteError, match=message) as e:
        load_suite(d)
    assert all(str(d / "suite.toml") in p for p in e.value.problems)


def test_stories_file_that_is_a_folder(tmp_path):
    d = copy_suite(tmp_path)
    (d / "stories.jsonl").unlink()
    (d / "stories.jsonl").mkdir()
    with pytest.raises(SuiteError, match="stories.jsonl: is a folder"):
        load_suite(d)
