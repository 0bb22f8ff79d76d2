"""A tiny local hf model as judge, end to end: ratings in [1, 5], the cache, batching, bad judges."""

from __future__ import annotations

import pytest

from judge_data import STORIES
from evalkit.errors import EvalkitError
from evalkit.judge.judge import configure_judge
from evalkit.judge.rubric import load_rubrics
from evalkit.scorers.base import StoryInput

pytestmark = pytest.mark.slow


def _stories():
    return [StoryInput(text=t, id=f"s{i}", prompt="A short tale", genre="Fantasy") for i, t in enumerate(STORIES)]


def test_hf_judge_rates_in_range_and_rerun_hits_the_cache(judge_llama_dir, tmp_path):
    rubrics = load_rubrics()
    judge = configure_judge(str(judge_llama_dir), cache_dir=tmp_path / ".cache", batch_size=4)
    assert judge.engine.method == "logits"
    rated = judge.rate(_stories(), rubrics, {"Fantasy": "Magic and dragons."})
    assert judge.engine.forward_calls == 5  # 20 questions in batches of 4
    values = [rec.value for per in rated for rec in per.values()]
    assert len(values) == 20 and all(1.0 <= v <= 5.0 for v in values)
    assert len(set(values)) > 1  # the story and rubric change the judge's answer
    rec = rated[0]["coherence"]
    assert abs(sum(rec.probs.values()) - 1) < 1e-6 and 0 < rec.coverage <= 1
    lines = (tmp_path / ".cache" / "judge" / f"{judge.key}.jsonl").read_text().splitlines()
    assert len(lines) == 20

    again = configure_judge(str(judge_llama_dir), cache_dir=tmp_path / ".cache", batch_size=4)
    rated2 = again.rate(_stories(), rubrics, {"Fantasy": "Magic and dragons."})
    assert again.engine.forward_calls == 0 and again.asked == 0
    assert [r.value for per in rated2 for r in per.values()] == values
    # one changed story: only its five questions are asked
    changed = _stories()
    changed[2] = StoryInput(text="A new story about a kind owl.", id="s2", prompt="A short tale", genre="Fantasy")
    again.rate(changed, rubrics, {"Fantasy": "Magic and dragons."})
    assert again.asked == 5


def test_batched_equals_one_by_one(judge_llama_dir):
    rubrics = load_rubrics()[:2]
    batched = configure_judge(str(judge_llama_dir), batch_size=8).rate(_stories(), rubrics)
    single = configure_judge(str(judge_llama_dir), batch_size=1).rate(_stories(), rubrics)
    for b, s in zip(batched, single):
        for name in b:
            assert b[name].value == pytest.approx(s[name].value, abs=1e-3)


def test_a_judge_that_cannot_load_fails_before_any_work(tmp_path):
    with pytest.raises(EvalkitError, match="no such file"):
        configure_judge(str(tmp_path / "missing-model"), cache_dir=tmp_path / ".cache")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(EvalkitError, match="judge"):
        configure_judge(str(broken), cache_dir=tmp_path / ".cache")
    assert not (tmp_path / ".cache").exists()


def test_suite_can_override_and_choose_rubrics(tmp_path):
    from types import SimpleNamespace

    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "humour.toml").write_text(
        'name = "humour"\ntitle = "Humour"\nquestion = "How funny is it?"\nscale = ["1","2","3","4","5"]\n')
    suite = SimpleNamespace(path=tmp_path, config={"judge": {"rubrics": "rubrics", "criteria": ["humour", "coherence"]}})
    assert [r.name for r in load_rubrics(suite)] == ["humour", "coherence"]
    inline = SimpleNamespace(path=tmp_path, config={"judge": {"rubrics": {"coherence": {"question": "Does it hold together?"}}}})
    coh = {r.name: r for r in load_rubrics(inline)}["coherence"]
    assert coh.question == "Does it hold together?" and coh.digest() != load_rubrics()[0].digest()
    bad = SimpleNamespace(path=tmp_path, config={"judge": {"rubrics": {"coherence": {"scale": ["1", "2"]}}}})
    with pytest.raises(EvalkitError, match="scale"):
        load_rubrics(bad)


def test_a_local_judge_on_the_cpu_asks_one_question_per_forward_by_default(judge_llama_dir, tmp_path):
    judge = configure_judge(str(judge_llama_dir), cache_dir=tmp_path / ".cache")
    assert judge.engine.batch_size == 1 and judge.batch_size == 8  # forward one by one, cache appends per 8
    judge.rate(_stories()[:2], load_rubrics()[:1], {"Fantasy": "Magic and dragons."})
    assert judge.engine.forward_calls == 2
    chosen = configure_judge(str(judge_llama_dir), cache_dir=tmp_path / "other", batch_size=4)
    assert chosen.engine.batch_size == chosen.batch_size == 4
