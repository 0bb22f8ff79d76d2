"""CPU speed pieces of the hf backend on tiny real models: the bf16 decision, the fused top-k/top-p
sampler (same tokens as transformers' warpers), int8 dynamic quantization."""

import pytest

from evalkit.models import hf as hf_module
from evalkit.models.base import ModelSpec, Request
from evalkit.models.hf import HFModel
from evalkit.models.hf_cpu import TopKTopP, cpu_has_bf16
from evalkit.records import GenerationParams
from evalkit.suites import load_suite


@pytest.fixture(scope="module")
def requests_():
    s = load_suite("smoke")
    return [Request.from_item(s, i) for i in s.items]


def test_cpu_has_bf16_reads_whole_flags():
    assert cpu_has_bf16("flags\t\t: fpu avx2 fma avx512f avx512_bf16\n")
    assert cpu_has_bf16("flags : sse avx2 amx_bf16 amx_tile\n")
    assert not cpu_has_bf16("flags : fpu avx2 fma avx512f avx512_vnni\n")
    assert not cpu_has_bf16("flags : avx512_bf16x\n")  # a whole flag, not a substring


@pytest.mark.parametrize("has_bf16, expected", [(True, "bfloat16"), (False, "float32")])
def test_auto_dtype_follows_detected_cpu_features(tiny_gpt2_dir, monkeypatch, has_bf16, expected):
    monkeypatch.setattr(hf_module, "cpu_has_bf16", lambda: has_bf16)
    m = HFModel(ModelSpec("g", "hf", {"source": str(tiny_gpt2_dir), "device": "cpu"}))
    m.load()
    assert m.describe().dtype == expected
    m.close()


@pytest.mark.parametrize("top_k, top_p, temperature", [(50, 0.95, 0.8), (5, 0.5, 1.0), (400, 0.9, 1.3), (3, 1.0, 1.0)])
def test_fused_topk_topp_keeps_what_transformers_warpers_keep(top_k, top_p, temperature):
    import torch
    from transformers.generation.logits_process import (LogitsProcessorList, TemperatureLogitsWarper,
                                                        TopKLogitsWarper, TopPLogitsWarper)

    torch.manual_seed(0)
    scores = torch.randn(6, 1000) * 3
    ref_list = [TemperatureLogitsWarper(temperature), TopKLogitsWarper(top_k)] if temperature != 1.0 else [TopKLogitsWarper(top_k)]
    if top_p < 1.0:
        ref_list.append(TopPLogitsWarper(top_p))
    ref = LogitsProcessorList(ref_list)(None, scores.clone())
    got = TopKTopP(top_k, top_p, temperature)(None, scores.clone())
    assert torch.equal(torch.isinf(ref), torch.isinf(got))
    kept = ~torch.isinf(ref)
    assert torch.allclose(ref[kept], got[kept])
    assert int(kept.sum(-1).min()) >= 1


def test_seeded_sampling_same_stories_as_transformers_warpers(tiny_llama_dir, requests_):
    """evalkit's fused sampler draws the very tokens transformers' own top-k → top-p warpers draw."""
    import torch
    from transformers import set_seed

    m = HFModel(ModelSpec("l", "hf", {"source": str(tiny_llama_dir), "dtype": "float32"}))
    p = GenerationParams(max_new_tokens=12, batch_size=5, seed=11, temperature=0.9, top_p=0.8, top_k=40)
    ours = [g.text for g in m.generate(requests_, p)]
    tok = m.tokenizer
    ids = [tok(m.render(r), add_special_tokens=False)["input_ids"] for r in requests_]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # evalkit sorts a batch by prompt length
    enc = tok.pad({"input_ids": [ids[i] for i in order]}, padding=True, return_tensors="pt")
    set_seed(p.seed)
    with torch.inference_mode():
        out = m.model.generate(**enc, max_new_tokens=12, do_sample=True, temperature=0.9, top_p=0.8, top_k=40,
                               pad_token_id=tok.pad_token_id)
    eos = tok.eos_token_id
    theirs = [None] * len(ids)
    for i, row in zip(order, out[:, enc["input_ids"].shape[1]:].tolist()):
        n = next((j + 1 for j, t in enumerate(row) if t == eos), len(row))
        theirs[i] = tok.decode(row[:n], skip_special_tokens=True).strip()
    assert ours == theirs
    m.close()


def test_int8_dynamic_quantizes_linears_and_generates(tiny_llama_dir, requests_):
    m = HFModel(ModelSpec("q8", "hf", {"source": str(tiny_llama_dir), "quantization": "int8-dynamic"}))
    m.load()
    assert any(type(mod).__module__.startswith("torch.ao.nn.quantized.dynamic") for mod in m.model.modules())
    gens = m.generate(requests_[:3], GenerationParams(max_new_tokens=8, batch_size=3, do_sample=False))
    assert len(gens) == 3 and all(g.completion_tokens and g.completion_tokens > 0 for g in gens)
    assert m.describe().quantization == "int8-dynamic"
    m.close()


def test_int8_dynamic_refused_on_gpu_device(tiny_llama_dir):
    from evalkit.errors import EvalkitError

    m = HFModel(ModelSpec("q8", "hf", {"source": str(tiny_llama_dir), "quantization": "int8-dynamic",
                                        "device": "cuda"}))
    with pytest.raises(EvalkitError, match="int8-dynamic runs on the CPU"):
        m.load()
