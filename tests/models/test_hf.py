"""The hf backend on tiny real models: GPT-2 (distilgpt2 path) and Llama + LoRA in nf4 (llama3-qlora path)."""

import json
import shutil

import pytest

from evalkit.errors import EvalkitError, WeightsMissing
from evalkit.models.base import ModelSpec, Request
from evalkit.models.hf import HFModel
from evalkit.records import GenerationParams
from evalkit.suites import load_suite


@pytest.fixture(scope="module")
def requests_():
    s = load_suite("smoke")
    return [Request.from_item(s, i) for i in s.items]


def test_gpt2_plain_template_batched_and_seeded(tiny_gpt2_dir, requests_):
    m = HFModel(ModelSpec("g", "hf", {"source": str(tiny_gpt2_dir), "dtype": "float32"}))
    m.load()
    assert not m.use_chat and m.render(requests_[0]).startswith("[GENRE] ")
    p = GenerationParams(max_new_tokens=8, batch_size=3, seed=7)
    a = m.generate(requests_, p)
    b = m.generate(requests_, p)
    assert [g.text for g in a] == [g.text for g in b]  # seeded sampling repeats
    assert len(a) == 5 and all(0 < g.completion_tokens <= 8 for g in a)
    assert all(g.latency_s > 0 and g.ttft_s is not None and g.ttft_s <= g.latency_s for g in a)
    assert [g.prompt_tokens for g in a] == [len(m.tokenizer(m.render(r))["input_ids"]) for r in requests_]
    info = m.describe()
    assert info.parameters and info.parameters > 10_000 and info.device == "cpu" and info.dtype == "float32"
    assert info.disk_bytes and info.adapter is None
    m.close()


def test_batched_equals_unbatched_greedy(tiny_gpt2_dir, requests_):
    """Left padding must not change what a story says."""
    m = HFModel(ModelSpec("g", "hf", {"source": str(tiny_gpt2_dir), "dtype": "float32"}))
    p1 = GenerationParams(max_new_tokens=6, batch_size=1, do_sample=False)
    p5 = GenerationParams(max_new_tokens=6, batch_size=5, do_sample=False)
    assert [g.text for g in m.generate(requests_, p1)] == [g.text for g in m.generate(requests_, p5)]


def test_llama_lora_in_nf4_keeps_adapter_unmerged(tiny_llama_dir, tiny_lora_dir, requests_):
    m = HFModel(ModelSpec("q", "hf", {"source": str(tiny_llama_dir), "adapter": str(tiny_lora_dir),
                                      "quantization": "nf4"}))
    m.load()
    from peft import PeftModel

    assert isinstance(m.model, PeftModel)
    assert any(type(mod).__name__ == "Linear4bit" for mod in m.model.modules())
    assert m.use_chat and m.render(requests_[0]).startswith("<|system|>")
    gens = m.generate(requests_[:2], GenerationParams(max_new_tokens=4, batch_size=2))
    assert len(gens) == 2
    info = m.describe()
    assert info.quantization == "nf4" and info.adapter == str(tiny_lora_dir) and info.chat_template


def test_adapter_for_another_base_is_refused(tiny_tokenizer_dir, tiny_lora_dir, tmp_path):
    from tiny_models import build_tiny_llama

    other = build_tiny_llama(tmp_path / "other", tiny_tokenizer_dir, hidden=32)
    m = HFModel(ModelSpec("q", "hf", {"source": str(other), "adapter": str(tiny_lora_dir)}))
    with pytest.raises(EvalkitError, match="hidden_size 64 != 32"):
        m.load()
    # an adapter whose config names no local base: peft itself finds the shape mismatch
    moved = tmp_path / "lora-copy"
    shutil.copytree(tiny_lora_dir, moved)
    cfg = json.loads((moved / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = "some/hub-model"
    (moved / "adapter_config.json").write_text(json.dumps(cfg))
    m = HFModel(ModelSpec("q", "hf", {"source": str(other), "adapter": str(moved)}))
    with pytest.raises(EvalkitError, match="does not fit base"):
        m.load()


def test_missing_weights_and_adapters_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    m = HFModel(ModelSpec("distilgpt2", "hf", {"source": "distilgpt2"}))
    assert "not in the local Hugging Face cache" in m.availability()
    with pytest.raises(WeightsMissing, match="local folder or .gguf file"):
        m.load()
    q = HFModel(ModelSpec("llama3-qlora", "hf", {"source": str(tmp_path), "adapter": str(tmp_path / "nope"),
                                                 "requires_adapter": True}))
    assert "evalkit finetune llama3-qlora" in q.availability()


def test_oom_halves_the_batch_and_records_it(tiny_gpt2_dir, requests_, monkeypatch):
    import torch

    m = HFModel(ModelSpec("g", "hf", {"source": str(tiny_gpt2_dir), "dtype": "float32"}))
    m.load()
    real = m._generate_batch

    def limited(ids, params):  # behave like a GPU that fits at most two stories at once
        if len(ids) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(ids, params)

    monkeypatch.setattr(m, "_generate_batch", limited)
    gens = m.generate(requests_, GenerationParams(max_new_tokens=4, batch_size=5))
    assert len(gens) == 5
    assert all(g.extra["oom_retries"] == 1 and g.extra["batch_size_after_oom"] == 2 for g in gens)


def test_fingerprint_changes_when_weights_change(tiny_gpt2_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_gpt2_dir, d)
    spec = ModelSpec("g", "hf", {"source": str(d)})
    before = HFModel(spec).fingerprint()
    assert HFModel(spec).fingerprint() == before
    (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes() + b"")
    import os

    os.utime(d / "model.safetensors", ns=(1, 1))
    assert HFModel(spec).fingerprint() != before
