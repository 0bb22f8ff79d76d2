"""Judges behind a real HTTP server on 127.0.0.1: logprobs, no logprobs, garbage, gone."""

from __future__ import annotations

import math

import pytest

from judge_data import STORIES, models_file
from evalkit.errors import EvalkitError
from evalkit.judge.judge import configure_judge
from evalkit.judge.rubric import load_rubrics
from evalkit.scorers.base import StoryInput

pytestmark = pytest.mark.slow


def _stories(n=2):
    return [StoryInput(text=t, id=f"s{i}", prompt="p", genre="Fantasy") for i, t in enumerate(STORIES[:n])]


def test_expected_rating_from_top_logprobs(judge_server, tmp_path):
    server = judge_server("logprobs")
    judge = configure_judge("server-judge", models_file(tmp_path, server.base_url), cache_dir=tmp_path / "c")
    rated = judge.rate(_stories(), load_rubrics()[:1])
    # top_logprobs: "4" .5, "3" .2, " 5" .1, "Rating" .1, "2" .05 -> over the digits
    want = (4 * 0.5 + 3 * 0.2 + 5 * 0.1 + 2 * 0.05) / 0.85
    for per in rated:
        rec = per["coherence"]
        assert rec.method == "logprobs"
        assert rec.value == pytest.approx(want, abs=1e-9)
        assert rec.coverage == pytest.approx(0.85, abs=1e-9)
    sent = server.requests()[-1]["body"]
    assert sent["logprobs"] is True and sent["top_logprobs"] == 20 and sent["temperature"] == 0.0


def test_no_logprobs_falls_back_to_sampling_and_says_so(judge_server, tmp_path):
    server = judge_server("nologprobs")
    judge = configure_judge("server-judge", models_file(tmp_path, server.base_url), cache_dir=tmp_path / "c",
                            samples=5)
    rated = judge.rate(_stories(1), load_rubrics()[:1])
    rec = rated[0]["coherence"]
    # the server answers 3 + seed % 3 for seeds 1000..1004: 4, 5, 3, 4, 5
    assert rec.method == "sampled_mean" and rec.n_samples == 5
    assert rec.value == pytest.approx(21 / 5)
    assert "no logprobs" in rec.note
    seeds = sorted(r["body"]["seed"] for r in server.requests() if not r["body"].get("logprobs"))  # the samples
    assert seeds == [1000, 1001, 1002, 1003, 1004]


def test_garbage_answers_are_retried_once_then_null_with_the_text(judge_server, tmp_path):
    server = judge_server("garbage")
    judge = configure_judge("server-judge", models_file(tmp_path, server.base_url), cache_dir=tmp_path / "c",
                            samples=2)
    rated = judge.rate(_stories(1), load_rubrics()[:1])
    rec = rated[0]["coherence"]
    assert rec.value is None and "cannot rate this story" in rec.note and "after one retry" in rec.note
    assert judge.missing == 1
    # probe (1, no logprobs) + 2 samples + one retry of 2 samples
    assert len(server.requests()) == 1 + 2 + 2
    assert not (tmp_path / "c" / "judge" / f"{judge.key}.jsonl").exists()  # failures are not cached


def test_a_judge_gone_mid_run_leaves_nulls_and_the_count(judge_server, tmp_path):
    server = judge_server("logprobs")
    judge = configure_judge("server-judge", models_file(tmp_path, server.base_url), cache_dir=tmp_path / "c")
    server.stop()
    rated = judge.rate(_stories(2), load_rubrics()[:2])
    assert all(rec.value is None and "connection failed" in rec.note for per in rated for rec in per.values())
    assert judge.missing == 4


def test_an_unreachable_judge_fails_before_any_work(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EvalkitError, match="no server answers"):
        configure_judge("server-judge", models_file(tmp_path, f"http://127.0.0.1:{port}/v1"),
                        cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_hand_computed_expectation_helpers():
    from evalkit.judge.expected import expected_value, probs_from_top_logprobs, rating_values

    top = [{"token": "5", "logprob": math.log(0.3)}, {"token": " 5", "logprob": math.log(0.1)},
           {"token": "1", "logprob": math.log(0.4)}, {"token": "x", "logprob": 0.0}]
    probs = probs_from_top_logprobs(top, ("1", "2", "3", "4", "5"))
    assert probs == pytest.approx({"5": 0.4, "1": 0.4})
    assert expected_value(probs, rating_values("12345")) == pytest.approx(3.0)
    assert expected_value({}, rating_values("12345")) is None
