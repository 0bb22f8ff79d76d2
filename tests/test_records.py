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


def _training_record() -> dict:
    """A training_record.json as `evalkit finetune` writes it (every field the writer sets)."""
    return {
        "schema": "evalkit.training/1", "identity": "abc", "recipe": "full", "recipe_file": "/r/full.toml",
        "method": "full", "output": "/out", "output_kind": "checkpoint", "format": "plain",
        "hyperparameters": {"learning_rate": 0.003, "epochs": 8},
        "base": {"label": "tiny", "source": "/base", "resolved_path": "/base", "fingerprint": "f", "gguf": None,
                 "parameters": 100, "trainable_parameters": 100},
        "suite": {"name": "smoke", "path": "/s", "hash": "h", "train_split": "train", "eval_split": "validation",
                  "n_train": 4, "n_eval": 2, "train_tokens": 900, "train_story_tokens": 700, "truncated": 0,
                  "dropped": []},
        "seed": 1, "wall_time_s": 5400.0, "session_wall_s": 5400.0, "session_cpu_s": 9000.5, "resumed_from_step": None,
        "load_s": 1.5, "save_s": 0.5, "global_step": 16, "epochs": 8.0, "tokens_seen": 7200,
        "peak_memory": {"kind": "rss", "peak_bytes": 10, "reserved_bytes": None, "baseline_bytes": None, "note": None},
        "device": "cpu", "hardware": {"cpu": "x"}, "libraries": {"torch": "2"}, "train_loss": 1.0,
        "train_loss_mean": 2.0, "validation_loss": 1.5, "initial_validation_loss": 3.0, "best_step": 14,
        "loss_history": [{"step": 1.0, "loss": 3.0}], "eval_history": [{"step": 0.0, "epoch": 0.0, "eval_loss": 3.0}],
        "evalkit_version": "0.1.0", "git_sha": None, "command": ["evalkit", "finetune"], "created": "2025-01-01T00:00:00Z",
    }


def test_training_record_is_typed_in_the_manifest_and_keeps_its_bytes(tmp_path):
    """ModelRun.training: the finetune writer's record, typed (unknown keys refused, a description per
    field); a record of another version still loads, as the plain dict it was."""
    from pydantic import ValidationError

    from evalkit.models.base import find_training_record
    from evalkit.records import ModelRun, ModelTraining, TrainedBase, TrainingRecord, TrainingSuite
    from evalkit.records import model_measurements as measurements

    for cls in (TrainingRecord, TrainedBase, TrainingSuite, ModelTraining):
        assert cls.model_config["extra"] == "forbid"
        assert all(f.description for f in cls.model_fields.values()), cls
    data = _training_record()
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    rec = TrainingRecord.model_validate(data)
    write_json(tmp_path / "training_record.json", rec)
    assert (tmp_path / "training_record.json").read_text(encoding="utf-8") == text  # the writer's bytes, unchanged
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TrainingRecord.model_validate({**data, "wall_time": 1.0})

    found = find_training_record([str(tmp_path)])
    assert isinstance(found, ModelTraining) and found.path == str(tmp_path / "training_record.json")
    run = ModelRun(label="m", spec={}, model_key="k", training=found)
    back = ModelRun.model_validate_json(run.model_dump_json(by_alias=True))
    assert isinstance(back.training, ModelTraining) and back.training == found
    assert measurements(back).training_hours == 1.5

    older = {"wall_time_s": 7200.0, "recipe": "full"}  # another version, or a foreign file of that name
    (tmp_path / "training_record.json").write_text(json.dumps(older), encoding="utf-8")
    loose = find_training_record([str(tmp_path)])
    assert loose == older | {"path": str(tmp_path / "training_record.json")}
    run = ModelRun.model_validate({"label": "m", "spec": {}, "model_key": "k", "training": loose})
    assert run.training == loose and measurements(run).training_hours == 2.0
