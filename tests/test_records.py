import json
from pathlib import Path

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


def test_stage_records_reject_unknown_keys_and_keep_their_bytes():
    from pydantic import ValidationError

    from evalkit.records import AnchorScores, Baseline, LeaderboardRecord, Rating, RegressReport, Summary

    golden = Path(__file__).parent / "golden" / "run"
    for model, name in ((Summary, "summary.json"), (Rating, "rating.json"), (Baseline, "baseline.json"),
                        (RegressReport, "regress.json"), (LeaderboardRecord, "leaderboard.json")):
        text = (golden / name).read_text(encoding="utf-8")
        data = json.loads(text)
        rec = model.model_validate(data)  # what evalkit wrote reads back as its record
        if name != "leaderboard.json":  # (the leaderboard is written with sorted keys)
            assert json.dumps(rec.model_dump(mode="json", by_alias=True), indent=2, ensure_ascii=False) + "\n" == text
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            model.model_validate({**data, "modles": {}})  # a typo never passes silently
    row = json.loads((golden / "rating.json").read_text())
    row["rows"][0]["models"]["parrot"]["stras"] = 5
    with pytest.raises(ValidationError):
        Rating.model_validate(row)
    with pytest.raises(ValidationError):
        AnchorScores.model_validate({"suite_hash": "h", "split": "test", "item_ids": [], "seed": 7, "kinds": [],
                                     "references": {}, "degenerate": {}, "extra": 1})
