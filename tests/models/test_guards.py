"""Hostile input to the model side, through the real CLI (issue 12: items 5, 6, 7, 13 and the two smaller
ones): each bad input gets exit 2 and one line on stderr, never a traceback, and no file that existed
before the command is changed or removed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


KEY = "sk-test-SECRET-key-0123456789abcdef"


def evalkit(*args: str, cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    # progress bars off: a loading bar on stderr is not an error line
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
           **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def compare(cwd: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    return evalkit("compare", *args, "--suite", "smoke", "--split", "test", "--results-dir", str(cwd / "results"),
                   "--scorers", "repetition", "--max-new-tokens", "4", cwd=cwd, env_extra=env_extra)


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_refused(res: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, one line on stderr naming every needle, no traceback; returns the line."""
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr and len(lines) == 1, res.stderr[-3000:]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def unchanged_after(root: Path, run) -> subprocess.CompletedProcess:
    """Run ``run()``; every file under ``root`` that existed before is byte-identical after."""
    before = checksums(root)
    res = run()
    after = checksums(root)
    assert {k: after.get(k) for k in before} == before
    return res


@pytest.fixture()
def gpt2(tiny_gpt2_dir, tmp_path) -> Path:
    """A private copy of the tiny GPT-2 inside the test's folder (so its checksums are watched)."""
    return Path(shutil.copytree(tiny_gpt2_dir, tmp_path / "gpt2"))


# ------------------------------------------------------------------------ item 7: -o MODEL.KEY=VALUE typos

def test_option_for_a_model_not_given_is_refused(gpt2, tmp_path):
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, str(gpt2), "-o", "distilgpt2.dtype=float32"))
    assert_refused(res, "'distilgpt2'", "not one of the models given")
    assert not (tmp_path / "results").exists()


def test_unknown_option_key_is_named_with_the_valid_ones(gpt2, tmp_path):
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, str(gpt2), "-o", f"{gpt2}.dtyp=float32"))
    assert_refused(res, "dtyp", "valid options:", "dtype", "quantization")


def test_hf_option_values_are_typed(gpt2, tmp_path):
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, str(gpt2), "-o", f"{gpt2}.dtype=float64"))
    assert_refused(res, "option dtype", "float32")


def test_openai_option_typo_is_named(tmp_path):
    models = tmp_path / "models.toml"
    models.write_text('[models.served]\nbackend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n')
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, "served", "--models-file", str(models),
                                                    "-o", "served.concurency=2"))
    assert_refused(res, "concurency", "valid options:", "concurrency")


# ------------------------------------------------------------------------ the smaller two

def test_one_folder_under_two_spellings_is_refused(gpt2, tmp_path):
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, "./gpt2", "gpt2/"))
    assert_refused(res, "named twice", "'./gpt2'", "'gpt2/'")
    res = compare(tmp_path, "gpt2", str(gpt2.resolve()))
    assert_refused(res, "named twice")


def test_missing_local_path_is_called_missing_not_uncached(tmp_path):
    models = tmp_path / "models.toml"
    models.write_text(f'[models.gone]\nbackend = "hf"\nsource = "{tmp_path / "no-such-folder"}"\n')
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, "gone", "--models-file", str(models)))
    line = assert_refused(res, "does not exist", str(tmp_path / "no-such-folder"))
    assert "not in the local Hugging Face cache" not in line


# ------------------------------------------------------------------------ item 13: one guard for weight files

def test_text_file_named_gguf(tmp_path):
    fake = tmp_path / "story-model.gguf"
    fake.write_text("this is not a model\n")
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, str(fake)))
    assert_refused(res, str(fake), "not a GGUF file")


def test_truncated_safetensors(gpt2, tmp_path):
    weights = gpt2 / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, str(gpt2)))
    assert_refused(res, str(weights), "truncated")


def test_adapter_config_that_is_not_an_object(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('["base_model_name_or_path"]')
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, str(adapter)))
    assert_refused(res, str(adapter / "adapter_config.json"), "JSON object")


class _Payload:
    """A pickle that creates a file when unpickled: proof that no pickled code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.slow
def test_pickle_bin_that_torch_rejects(gpt2, tmp_path):
    import torch

    (gpt2 / "model.safetensors").unlink()
    marker = tmp_path / "payload-ran"
    torch.save({"transformer.wte.weight": _Payload(marker)}, gpt2 / "pytorch_model.bin")
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, str(gpt2)))
    line = assert_refused(res, str(gpt2 / "pytorch_model.bin"), "pickle")
    assert "weights_only" not in res.stderr and "weights_only" not in line
    assert not marker.exists()


# ------------------------------------------------------------------------ item 5: past the model's context

@pytest.mark.slow
def test_generation_is_capped_at_the_position_limit(gpt2, tmp_path):
    """512 positions, 600 new tokens asked: every story is kept, capped, and the cap is recorded."""
    res = unchanged_after(tmp_path, lambda: evalkit(
        "compare", str(gpt2), "--suite", "smoke", "--split", "test", "--results-dir", str(tmp_path / "results"),
        "--scorers", "repetition", "--max-new-tokens", "600", "--greedy", cwd=tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr and "capped at" in res.stderr
    (gen_file,) = (tmp_path / "results").glob("*/generations.jsonl")
    gens = [json.loads(line) for line in gen_file.read_text().splitlines()]
    assert len(gens) == 5 and all(g["error"] is None for g in gens)
    for g in gens:
        cap = g["extra"]["max_new_tokens_capped"]
        assert 0 < cap < 600 and g["prompt_tokens"] + cap <= 512 and g["completion_tokens"] <= cap


@pytest.fixture()
def short_context_gpt2(tiny_tokenizer_dir, tmp_path) -> Path:
    """A GPT-2 that holds 24 positions: shorter than any smoke prompt."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    out = tmp_path / "gpt2-24"
    torch.manual_seed(0)
    AutoTokenizer.from_pretrained(tiny_tokenizer_dir).save_pretrained(out)
    GPT2LMHeadModel(GPT2Config(vocab_size=402, n_positions=24, n_embd=16, n_layer=1, n_head=2,
                               bos_token_id=0, eos_token_id=0, pad_token_id=1)).save_pretrained(out)
    return out


@pytest.mark.slow
def test_prompts_longer_than_the_context_are_refused(short_context_gpt2, tmp_path):
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, str(short_context_gpt2)))
    assert_refused(res, "longer than the model's context of 24 positions")


@pytest.mark.slow
def test_one_long_prompt_fails_alone_and_the_batch_is_kept(short_context_gpt2):
    from dataclasses import replace

    from evalkit.models.base import ModelSpec, Request
    from evalkit.models.hf import HFModel
    from evalkit.records import GenerationParams
    from evalkit.suites import load_suite

    suite = load_suite("smoke")
    long = Request.from_item(suite, suite.items[0])
    short = replace(long, plain_prompt="once upon a time")
    m = HFModel(ModelSpec("short", "hf", {"source": str(short_context_gpt2), "dtype": "float32"}))
    gens = m.generate([long, short, short], GenerationParams(max_new_tokens=40, batch_size=3, do_sample=False))
    assert "holds 24 positions" in gens[0].error and gens[0].text == ""
    for g in gens[1:]:
        assert g.error is None and g.extra["max_new_tokens_capped"] == 24 - g.prompt_tokens
    m.close()


# ------------------------------------------------------------------------ item 6: the API key never stored

def _openai_models_file(tmp_path: Path, base_url: str) -> Path:
    f = tmp_path / "models.toml"
    f.write_text(f'[models.keyed]\nbackend = "openai"\nbase_url = "{base_url}"\nmodel = "test-model"\n'
                 'api_key_env = "EVALKIT_TEST_KEY"\nconcurrency = 1\nmax_retries = 0\n')
    return f


def _files_holding(root: Path, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.slow
def test_error_echoing_the_key_is_refused_without_the_key(openai_start_server, tmp_path):
    srv = openai_start_server(require_key=KEY, fail_first=100, fail_kind="echo", fail_status=400)
    models = _openai_models_file(tmp_path, srv.base_url)
    res = unchanged_after(tmp_path, lambda: compare(tmp_path, "keyed", "--models-file", str(models),
                                                    env_extra={"EVALKIT_TEST_KEY": KEY}))
    line = assert_refused(res, "every story failed", "HTTP 400", "[REDACTED]")
    assert KEY not in res.stderr + res.stdout and KEY[:12] not in line
    assert srv.requests() and all(r["auth"] == f"Bearer {KEY}" for r in srv.requests())  # the key was sent
    assert _files_holding(tmp_path / "results", KEY) == []


@pytest.mark.slow
def test_stored_errors_and_reports_never_hold_the_key(openai_start_server, tmp_path):
    """Two stories fail with a 500 whose body echoes the request; they are stored and reported."""
    srv = openai_start_server(require_key=KEY, fail_first=2, fail_kind="echo", fail_status=500)
    models = _openai_models_file(tmp_path, srv.base_url)
    res = compare(tmp_path, "keyed", "--models-file", str(models), env_extra={"EVALKIT_TEST_KEY": KEY})
    assert res.returncode == 0, res.stderr[-3000:]
    (run_dir,) = [p for p in (tmp_path / "results").iterdir() if p.name[0].isdigit()]
    gens = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    errors = [g["error"] for g in gens if g["error"]]
    assert len(errors) == 2 and all("HTTP 500" in e and "[REDACTED]" in e for e in errors)
    assert (run_dir / "report.html").is_file()
    assert _files_holding(tmp_path, KEY) == [] and KEY not in res.stdout + res.stderr
