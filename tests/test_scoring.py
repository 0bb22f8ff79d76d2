"""The scoring stage (evalkit/scoring.py): every scorer over one model's stories, speed from the records."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.records import GenerationRecord
from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scoring import load_generations, score_stories, speed_scores


class Broken(Scorer):
    name = "broken"
    metrics = (Metric("broken_metric", "higher"),)

    def score(self, stories, context):
        raise RuntimeError("boom")


class Lengths(Scorer):
    name = "lengths"
    metrics = (Metric("words", "higher"),)

    def score(self, stories, context):
        return [StoryScores({"words": len(s.text.split()) or float("nan")}) for s in stories]


def test_a_failing_scorer_marks_its_metrics_not_scorable_and_the_others_still_score() -> None:
    stories = [StoryInput("one two three"), StoryInput("")]
    out = score_stories(stories, [Broken(), Lengths()], ScoringContext())
    assert [o.values["words"] for o in out] == [3.0, None]  # NaN is stored as not scorable
    assert all(o.values["broken_metric"] is None and "boom" in o.notes["broken_metric"] for o in out)


def test_speed_is_the_batch_time_shared_by_its_stories() -> None:
    rec = GenerationRecord(key="k", model="m", model_key="mk", item_id="i", seed=1, params_key="p", text="x",
                           completion_tokens=50, latency_s=10.0, ttft_s=0.5, extra={"batch_n": 4})
    assert speed_scores(rec) == {"seconds_per_story": 2.5, "tokens_per_s": 5.0, "ttft_s": 0.5}
    remote = rec.model_copy(update={"extra": {"wall_share_s": 1.5}})
    assert speed_scores(remote)["seconds_per_story"] == 1.5


def test_the_last_generation_of_an_item_wins(tmp_path: Path) -> None:
    lines = [GenerationRecord(key=f"k{n}", model="m", model_key="mk", item_id="i", seed=1, params_key="p",
                              text=text).model_dump(mode="json", by_alias=True) for n, text in enumerate(("old", "new"))]
    (tmp_path / "generations.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"torn', encoding="utf-8")
    problems: list[str] = []
    gens = load_generations(tmp_path, problems)
    assert [g.text for g in gens] == ["new"] and len(problems) == 1 and ":3:" in problems[0]
