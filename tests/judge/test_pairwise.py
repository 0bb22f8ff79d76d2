"""Pairwise preference: both orders, order swap, position bias, win rate and its interval."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from judge_data import STORIES, models_file
from evalkit.judge.consistency import consistency_report
from evalkit.judge.judge import configure_judge
from evalkit.judge.pairwise import PairJudgment, compare_pair, decide, summarize_pairs, win_rate

ITEMS = [SimpleNamespace(id=f"i{n}", prompt=f"prompt {n}", genre="Fantasy") for n in range(4)]
DRAGONS = {f"i{n}": f"A dragon story number {n}: the dragon flew home." for n in range(4)}
PLAIN = {f"i{n}": STORIES[n] .replace("dragon", "lizard") for n in range(4)}


@pytest.mark.slow
def test_order_swap_mirrors_and_hits_the_cache(judge_llama_dir, tmp_path):
    judge = configure_judge(str(judge_llama_dir), cache_dir=tmp_path / "c", batch_size=4)
    ab = compare_pair(judge, ITEMS, DRAGONS, PLAIN, "x", "y")
    calls = judge.engine.forward_calls
    assert calls == 2 and ab.n == 4  # 8 questions (4 items x 2 orders) in batches of 4
    ba = compare_pair(judge, ITEMS, PLAIN, DRAGONS, "y", "x")
    assert judge.engine.forward_calls == calls  # the same questions, swapped: all cached
    for j1, j2 in zip(ab.judgments, ba.judgments):
        assert j2.p_a_first == pytest.approx(1 - j1.p_a_second)
        assert j2.p_a_second == pytest.approx(1 - j1.p_a_first)
    assert ba.win_rate_a == pytest.approx(1 - ab.win_rate_a)
    assert (ab.wins_a, ab.wins_b, ab.ties) == (ba.wins_b, ba.wins_a, ba.ties)


@pytest.mark.slow
def test_a_judge_that_always_picks_the_first_story_is_all_ties_and_fully_biased(judge_server, tmp_path):
    server = judge_server("logprobs", pair="first")
    judge = configure_judge("server-judge", models_file(tmp_path, server.base_url))
    row = compare_pair(judge, ITEMS, DRAGONS, PLAIN, "x", "y")
    assert (row.wins_a, row.wins_b, row.ties) == (0, 0, 4)
    assert row.win_rate_a == 0.5 and row.order_agreement == 0.0
    assert row.first_position_rate == 1.0 and row.position_bias == 0.5
    report = consistency_report(judge, pairs=[row])
    assert report.position_bias == 0.5 and report.order_agreement == 0.0


@pytest.mark.slow
def test_a_judge_that_prefers_dragons_gives_model_a_every_item(judge_server, tmp_path):
    server = judge_server("logprobs", pair="keyword")
    judge = configure_judge("server-judge", models_file(tmp_path, server.base_url))
    row = compare_pair(judge, ITEMS, DRAGONS, PLAIN, "x", "y")
    assert (row.wins_a, row.ties, row.n_missing) == (4, 0, 0)
    assert row.win_rate_a == 1.0 and row.order_agreement == 1.0 and row.position_bias == 0.0
    assert [j.p_a_first for j in row.judgments] == pytest.approx([0.9] * 4)
    assert [j.p_a_second for j in row.judgments] == pytest.approx([0.8] * 4)
    # both orders of every item were asked, with each story in each position once
    bodies = [r["body"]["messages"][1]["content"] for r in server.requests()]
    assert sum(b.split("<<<STORY B>>>")[0].count("dragon") > 0 for b in bodies) == 4


def test_decisions_and_interval():
    assert decide(0.9, 0.7) == ("a", True)
    assert decide(0.2, 0.4) == ("b", True)
    assert decide(0.9, 0.3) == ("tie", False)  # the judge followed the position
    assert decide(None, 0.3) == (None, None)
    rate, lo, hi = win_rate(["a"] * 6 + ["b"] * 2 + ["tie"] * 2)
    assert rate == pytest.approx(0.7) and lo < 0.7 < hi and 0 <= lo and hi <= 1
    assert win_rate(["a"] * 5) == (1.0, 1.0, 1.0)
    rows = [PairJudgment(item_id="1", p_a_first=0.9, p_a_second=0.8, outcome="a", consistent=True),
            PairJudgment(item_id="2", p_a_first=None, p_a_second=0.8, outcome=None, consistent=None)]
    row = summarize_pairs(rows, "j", "overall", "x", "y")
    assert (row.n, row.n_missing, row.wins_a) == (1, 1, 1)
    # choices for the first-shown story: 0.9 (A first, chose A) yes; 0.8 as A second (chose A) no; 0.8 no
    assert row.first_position_rate == pytest.approx(1 / 3)


def test_self_preference_warning_and_metric_agreement():
    from evalkit.models.base import ModelSpec

    spec = ModelSpec("smol", "hf", {"source": "/m/smol"})
    judge = SimpleNamespace(spec=spec, missing=2,
                            is_same_model=lambda fp, s: fp == "k1" or (s is not None and s.options == spec.options))
    scores = [{"judge_coherence": float(v), "coherence": v / 10} for v in (1, 2, 3, 4)] + [{"coherence": 0.5}]
    rep = consistency_report(judge, scores, candidates={"smol-copy": ("k9", ModelSpec("s", "hf", {"source": "/m/smol"})),
                                                          "other": ("k2", ModelSpec("o", "hf", {"source": "/m/o"}))})
    assert len(rep.warnings) == 1 and "smol-copy" in rep.warnings[0] and rep.missing == 2
    coh = {a.judge_metric: a for a in rep.agreement}["judge_coherence"]
    assert coh.n == 4 and coh.kendall_tau == pytest.approx(1.0)
