"""The openai backend against real servers on 127.0.0.1: `transformers serve` with a tiny Llama for
normal runs, and openai_server.py (uvicorn) for a server that dies, stalls, rate-limits or sends junk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.models.base import ModelSpec, Request
from evalkit.models.openai import OpenAIModel
from evalkit.models.openai.transport import backoff, wall_shares
from evalkit.models.registry import load_backend
from evalkit.records import GenerationParams
from evalkit.suites import load_suite

FAST = {"max_retries": 1, "backoff_s": 0.05, "timeout_s": 10, "connect_timeout_s": 2}


@pytest.fixture(scope="module")
def requests() -> list[Request]:
    suite = load_suite("smoke")
    return [Request.from_item(suite, item) for item in suite.split("test")]


def model(label: str = "served", **options) -> OpenAIModel:
    return OpenAIModel(ModelSpec(label, "openai", options))


def params(**kw) -> GenerationParams:
    return GenerationParams(**{"max_new_tokens": 12, **kw})


# ------------------------------------------------------------------------ options, identity, pure parts

def test_entry_point_and_remote_flag():
    cls = load_backend("openai")
    assert cls is OpenAIModel and cls.remote is True


def test_bad_options_are_one_line_errors():
    m = model(base_url="http://127.0.0.1:1/v1", endpont="chat")  # typo
    assert "endpont" in m.availability() and "\n" not in m.availability()
    with pytest.raises(EvalkitError, match="endpont"):
        m.load()
    assert "http://" in model(base_url="127.0.0.1:8000/v1").availability()
    assert "endpoint" in model(base_url="http://127.0.0.1:1/v1", endpoint="responses").availability()


def test_fingerprint_ignores_speed_knobs_but_not_identity():
    a = model(base_url="http://127.0.0.1:8000/v1", model="m").fingerprint()
    assert a == model(base_url="http://127.0.0.1:8000/v1", model="m", concurrency=8, timeout_s=5,
                      max_retries=0, api_key_env="K").fingerprint()
    assert a != model(base_url="http://127.0.0.1:8000/v1", model="other").fingerprint()
    assert a != model(base_url="http://127.0.0.1:8001/v1", model="m").fingerprint()
    assert a != model(base_url="http://127.0.0.1:8000/v1", model="m", extra_body={"top_k": 40}).fingerprint()


def test_wall_shares_add_up_to_the_busy_time():
    spans = [(0.0, 2.0), (1.0, 3.0), None, (5.0, 6.0), (5.0, 6.0)]
    shares = wall_shares(spans)
    assert shares == pytest.approx([1.5, 1.5, None, 0.5, 0.5])
    assert sum(s for s in shares if s) == pytest.approx(3.0 + 1.0)  # union of the spans


def test_backoff_doubles_caps_and_honours_retry_after():
    assert 1.0 <= backoff(0, 1.0, 30, None) <= 1.25
    assert 4.0 <= backoff(2, 1.0, 30, None) <= 5.0
    assert backoff(10, 1.0, 30, None) == 30
    assert backoff(0, 0.1, 30, 3.0) == 3.0
    assert backoff(0, 0.1, 2.0, 3.0) == 2.0


def test_no_server_is_a_clear_error():
    m = model(base_url="http://127.0.0.1:9/v1", model="x", connect_timeout_s=1)
    assert "no server answers" in m.availability()
    with pytest.raises(EvalkitError, match="cannot reach"):
        m.load()


# --------------------------------------------------------------------- a real model: transformers serve

@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_stories_from_transformers_serve(openai_transformers_server, requests, endpoint):
    srv = openai_transformers_server
    m = model(base_url=srv.base_url, model=srv.model, endpoint=endpoint, concurrency=2, **FAST)
    assert m.availability() is None
    m.load()
    info = m.describe()
    assert srv.model in info.extra["served_models"] and info.chat_template == (endpoint == "chat")
    gens = m.generate(requests, params())
    assert len(gens) == len(requests)
    for g in gens:
        assert g.error is None and g.text.strip()
        assert g.extra["token_count"] == "usage"
        assert 1 <= g.completion_tokens <= 12 and g.prompt_tokens > 5
        assert 0 < g.ttft_s <= g.latency_s
        assert g.extra["batch_n"] >= 1 and 0 < g.extra["wall_share_s"] <= g.latency_s + 1e-9


@pytest.mark.slow
def test_seed_and_greedy_reach_the_server(openai_transformers_server, requests):
    srv = openai_transformers_server
    # `transformers serve` seeds the one global torch RNG per request, so seeded sampling repeats
    # only when requests do not overlap (vLLM seeds each request: any concurrency repeats there).
    m = model(base_url=srv.base_url, model=srv.model, concurrency=1, **FAST)
    m.load()
    first = [g.text for g in m.generate(requests[:3], params(seed=1))]
    assert first == [g.text for g in m.generate(requests[:3], params(seed=1))]
    assert first != [g.text for g in m.generate(requests[:3], params(seed=2))]
    greedy = [g.text for g in m.generate(requests[:2], params(do_sample=False, seed=1))]
    assert greedy == [g.text for g in m.generate(requests[:2], params(do_sample=False, seed=2))]


# ------------------------------------------------------------------------ what the server receives

def test_request_mapping_and_api_key(openai_fault_server, requests, monkeypatch):
    srv = openai_fault_server
    srv.configure(require_key="s3cret-key")
    monkeypatch.delenv("EVALKIT_TEST_KEY", raising=False)
    opts = dict(base_url=srv.base_url, model="test-model", api_key_env="EVALKIT_TEST_KEY",
                extra_body={"top_k": 40, "stream_options": None}, **FAST)
    assert "EVALKIT_TEST_KEY is not set" in model(**opts).availability()
    monkeypatch.setenv("EVALKIT_TEST_KEY", "wrong")
    with pytest.raises(EvalkitError, match="refused the API key"):
        model(**opts).load()

    monkeypatch.setenv("EVALKIT_TEST_KEY", "s3cret-key")
    m = model(**opts)
    m.load()
    gens = m.generate(requests[:2], params(temperature=0.7, top_p=0.9, seed=7, top_k=40, repetition_penalty=1.2))
    assert all(g.error is None for g in gens)
    assert gens[0].extra["params_not_sent"] == ["repetition_penalty"]  # top_k went through extra_body
    sent = srv.requests()
    assert {r["auth"] for r in sent} == {"Bearer s3cret-key"}
    body = sent[0]["body"]
    assert body["messages"][0] == {"role": "system", "content": requests[0].system}
    assert body["messages"][1]["content"] in (requests[0].user, requests[1].user)
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"], body["top_k"]) == (12, 0.7, 0.9, 7, 40)
    assert body["stream"] is True and "stream_options" not in body  # null in extra_body deletes
    recorded = m.describe().model_dump_json() + m.fingerprint() + "".join(g.model_dump_json() for g in gens)
    assert "s3cret" not in recorded

    srv.configure()
    m = model(base_url=srv.base_url, model="test-model", endpoint="completions", **FAST)
    m.generate(requests[:1], params(do_sample=False))
    body = srv.requests()[0]["body"]
    assert body["prompt"] == requests[0].plain_prompt and body["temperature"] == 0.0
    assert body["stream_options"] == {"include_usage": True}


def test_tokens_counted_when_the_server_sends_no_usage(openai_fault_server, openai_tiny_model_dir, requests):
    from transformers import AutoTokenizer

    srv = openai_fault_server
    srv.configure(usage=False, words=9)
    g = model(base_url=srv.base_url, model="test-model", **FAST).generate(requests[:1], params())[0]
    assert (g.completion_tokens, g.prompt_tokens, g.extra["token_count"]) == (9, None, "stream_chunks")

    m = model(base_url=srv.base_url, model="test-model", tokenizer=str(openai_tiny_model_dir), **FAST)
    m.load()
    g = m.generate(requests[:1], params())[0]
    tok = AutoTokenizer.from_pretrained(openai_tiny_model_dir)
    assert g.extra["token_count"] == "tokenizer"
    assert g.completion_tokens == len(tok.encode(g.text, add_special_tokens=False))
    assert g.prompt_tokens > g.completion_tokens


def test_non_streaming_server(openai_fault_server, requests):
    srv = openai_fault_server
    srv.configure(words=5)
    g = model(base_url=srv.base_url, model="test-model", stream=False, **FAST).generate(requests[:1], params())[0]
    assert g.text == "Once upon a time a" and g.completion_tokens == 5 and g.ttft_s is None
    assert "stream_options" not in srv.requests()[0]["body"]
    srv.configure(words=5, usage=False)
    g = model(base_url=srv.base_url, model="test-model", stream=False, **FAST).generate(requests[:1], params())[0]
    assert g.text and g.completion_tokens is None and "token_count" not in g.extra


def test_model_name_comes_from_the_server_when_unset(openai_fault_server):
    srv = openai_fault_server
    srv.configure(model="only-one")
    m = model(base_url=srv.base_url)
    m.load()
    assert m.describe().name == "only-one"


# ------------------------------------------------------------------------------------------- failures

def test_server_killed_mid_run_then_back(openai_start_server, requests):
    srv = openai_start_server(die_after=2)
    m = model(base_url=srv.base_url, model="test-model", concurrency=1, **FAST)
    m.load()
    gens = m.generate(requests, params())
    assert [g.error is None for g in gens] == [True, True, False, False, False]
    assert all(g.text for g in gens[:2]) and all(g.text == "" for g in gens[2:])
    assert all("connection failed" in g.error or "ended before" in g.error for g in gens[2:])
    assert "after 2 attempts" in gens[2].error
    assert srv.proc.wait(timeout=5) == 1  # it really died

    back = openai_start_server(port=srv.port)  # restarted on the same address
    failed = [r for r, g in zip(requests, gens) if g.error]
    again = m.generate(failed, params())
    assert all(g.error is None and g.text for g in again)
    assert len(back.requests()) == 3


def test_slow_server_times_out(openai_fault_server, requests):
    srv = openai_fault_server
    srv.configure(delay=5)
    t0 = time.monotonic()
    g = model(base_url=srv.base_url, model="test-model", timeout_s=0.4, max_retries=1,
              backoff_s=0.05).generate(requests[:1], params())[0]
    assert "timed out" in g.error and g.text == ""
    assert time.monotonic() - t0 < 3
    assert len(srv.requests()) == 2  # retried once

    # a server that trickles tokens forever is cut by the whole-request limit, not per-read timeouts
    srv.configure(words=40, chunk_delay=0.1)
    g = model(base_url=srv.base_url, model="test-model", timeout_s=0.8, max_retries=0).generate(requests[:1], params())[0]
    assert "timed out" in g.error


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limit_storm_backs_off_then_succeeds(openai_fault_server, requests, status):
    srv = openai_fault_server
    srv.configure(fail_first=7, fail_status=status)
    m = model(base_url=srv.base_url, model="test-model", concurrency=3, max_retries=5, backoff_s=0.05)
    gens = m.generate(requests, params())
    assert all(g.error is None and g.text for g in gens)
    assert sum(g.extra["attempts"] for g in gens) == len(requests) + 7 == len(srv.requests())
    by_time = sorted(r["t"] for r in srv.requests())
    assert by_time[-1] - by_time[0] >= 0.05  # retries waited


def test_retry_after_is_honoured_and_exhaustion_is_reported(openai_fault_server, requests):
    srv = openai_fault_server
    srv.configure(fail_first=1, retry_after=0.6)
    t0 = time.monotonic()
    g = model(base_url=srv.base_url, model="test-model", backoff_s=0.01, max_retries=2).generate(requests[:1], params())[0]
    assert g.error is None and g.extra["attempts"] == 2 and time.monotonic() - t0 >= 0.6

    srv.configure(fail_first=100, fail_status=429)
    gens = model(base_url=srv.base_url, model="test-model", backoff_s=0.01, max_retries=2).generate(requests[:2], params())
    assert all("HTTP 429" in g.error and "after 3 attempts" in g.error for g in gens)  # transient: no raise


def test_bad_json_is_a_clear_error(openai_fault_server, requests):
    srv = openai_fault_server
    srv.configure(fail_first=1, fail_kind="badjson")
    gens = model(base_url=srv.base_url, model="test-model", concurrency=1, **FAST).generate(requests[:3], params())
    assert "invalid JSON" in gens[0].error and gens[0].text == ""
    assert all(g.error is None for g in gens[1:])
    assert len(srv.requests()) == 3  # bad JSON is not retried

    srv.configure(fail_first=100, fail_kind="html")
    with pytest.raises(EvalkitError, match=r"every story failed: the server sent invalid JSON") as e:
        model(base_url=srv.base_url, model="test-model", **FAST).generate(requests, params())
    assert "\n" not in str(e.value)


def test_wrong_path_is_a_clear_error(openai_fault_server, requests):
    srv = openai_fault_server
    srv.configure()
    with pytest.raises(EvalkitError, match="HTTP 404.*base_url"):
        model(base_url=srv.root, model="test-model", **FAST).generate(requests[:2], params())


# ----------------------------------------------------------------------- evalkit compare, end to end

EVALKIT = Path(sys.executable).with_name("evalkit")


def compare(tmp_path: Path, models_file: Path, *labels: str) -> subprocess.CompletedProcess:
    cmd = [str(EVALKIT), "compare", *labels, "--suite", "smoke", "--split", "test", "--results-dir",
           str(tmp_path / "results"), "--models-file", str(models_file), "--scorers", "repetition,vocabulary"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=tmp_path,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def manifests(tmp_path: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*/manifest.json")]
    return sorted(found, key=lambda m: m["created"])


@pytest.mark.slow
def test_compare_against_transformers_serve(openai_transformers_server, tmp_path):
    srv = openai_transformers_server
    models_file = tmp_path / "models.toml"
    models_file.write_text(
        f'[models.served-chat]\nbackend = "openai"\nbase_url = "{srv.base_url}"\nmodel = "{srv.model}"\n'
        'concurrency = 2\n'
        f'[models.served-text]\nbackend = "openai"\nbase_url = "{srv.base_url}"\nmodel = "{srv.model}"\n'
        'endpoint = "completions"\n')
    run = compare(tmp_path, models_file, "served-chat", "served-text")
    assert run.returncode == 0, run.stderr[-2000:]
    (manifest,) = manifests(tmp_path)
    run_dir = tmp_path / "results" / manifest["run_id"]
    for m in manifest["models"]:
        assert m["memory"]["kind"] == "not measurable" and m["memory"]["peak_bytes"] is None
        assert m["n_failed"] == 0 and m["info"]["backend"] == "openai"
    gens = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines() if line.strip()]
    assert len(gens) == 10 and all(g["text"] and g["error"] is None and g["ttft_s"] for g in gens)
    summary = json.loads((run_dir / "summary.json").read_text())
    for label in ("served-chat", "served-text"):
        assert summary["measurements"][label]["memory_kind"] == "not measurable"
        assert summary["measurements"][label]["peak_memory_gb"] is None
        assert summary["models"][label]["seconds_per_story"]["n"] == 5


@pytest.mark.slow
def test_compare_reports_failed_stories_and_resumes(openai_start_server, tmp_path):
    srv = openai_start_server(die_after=2)
    models_file = tmp_path / "models.toml"
    models_file.write_text(f'[models.flaky]\nbackend = "openai"\nbase_url = "{srv.base_url}"\n'
                           'model = "test-model"\nconcurrency = 1\nmax_retries = 1\nbackoff_s = 0.05\n')
    first = compare(tmp_path, models_file, "flaky")
    assert "flaky" in first.stdout + first.stderr
    (m1,) = manifests(tmp_path)
    (run1,) = m1["models"]
    assert run1["n_failed"] == 3 and len(run1["failed_items"]) == 3
    assert "failed" in (first.stdout + first.stderr).lower()

    openai_start_server(port=srv.port)
    second = compare(tmp_path, models_file, "flaky")
    assert second.returncode == 0, second.stderr[-2000:]
    run2 = manifests(tmp_path)[-1]["models"][0]
    assert run2["n_failed"] == 0 and run2["n_cached"] == 2 and run2["n_generated"] == 3
