import json
import multiprocessing as mp

import pytest

from evalkit.errors import RecordError
from evalkit.records import GenerationRecord, append_jsonl, iter_jsonl, read_json, write_json


def rec(i: int) -> GenerationRecord:
    return GenerationRecord(key=f"k{i}", model="m", model_key="mk", item_id=f"i{i}", seed=1, params_key="p",
                            text="story " * 50)


def test_torn_last_line_is_skipped_and_reported(tmp_path):
    path = tmp_path / "g.jsonl"
    append_jsonl(path, [rec(1), rec(2)])
    with open(path, "a") as f:
        f.write('{"schema": "evalkit.generation/1", "key": "k3", "text": "half')  # killed writer
    problems: list[str] = []
    got = list(iter_jsonl(path, GenerationRecord, problems))
    assert [r.key for r in got] == ["k1", "k2"]
    assert problems and "g.jsonl:3" in problems[0]
    append_jsonl(path, [rec(4)])  # the next append starts on a fresh line
    assert [r.key for r in iter_jsonl(path, GenerationRecord)] == ["k1", "k2", "k4"]


def test_write_json_is_atomic_and_damaged_json_raises(tmp_path):
    path = tmp_path / "m.json"
    write_json(path, {"a": 1})
    assert read_json(path) == {"a": 1}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    path.write_text('{"a": ')
    with pytest.raises(RecordError, match="damaged JSON"):
        read_json(path)


def _writer(path: str, base: int) -> None:
    for i in range(50):
        append_jsonl(path, [rec(base + i)])


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "g.jsonl"
    procs = [mp.get_context("spawn").Process(target=_writer, args=(str(path), k * 1000)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = path.read_text().splitlines()
    assert len(lines) == 150
    assert all(json.loads(line)["text"].startswith("story") for line in lines)
