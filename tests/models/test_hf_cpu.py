"""CPU speed pieces of the hf backend on tiny real models: the bf16 decision follows the detected CPU
features; opt-in int8 dynamic quantization quantizes the Linear layers, writes text, stays on the CPU."""

import pytest

from evalkit.models import hf as hf_module
from evalkit.models.base import ModelSpec, Request
from evalkit.models.hf import HFModel
from evalkit.models.hf_cpu import compute_dtype_name, cpu_has_bf16
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


@pytest.mark.parametrize("wanted, device, has_bf16, expected", [
    ("bfloat16", "cpu", False, "float32"),  # a CPU without bf16 units computes 4-bit layers in fp32
    ("bfloat16", "cpu", True, "bfloat16"),
    ("bfloat16", "cuda", False, "bfloat16"),  # a GPU keeps the recipe's dtype
    ("float16", "cpu", False, "float16"),  # an explicit non-bf16 choice is kept
])
def test_nf4_compute_dtype_follows_the_device(wanted, device, has_bf16, expected):
    assert compute_dtype_name(wanted, device, lambda: has_bf16) == expected


@pytest.mark.parametrize("has_bf16, expected", [(True, "bfloat16"), (False, "float32")])
def test_an_nf4_model_on_cpu_computes_in_the_detected_dtype(tiny_llama_dir, monkeypatch, has_bf16, expected):
    import torch

    monkeypatch.setattr(hf_module, "cpu_has_bf16", lambda: has_bf16)
    m = HFModel(ModelSpec("q4", "hf", {"source": str(tiny_llama_dir), "quantization": "nf4", "device": "cpu"}))
    m.load()
    dtypes = {mod.compute_dtype for mod in m.model.modules() if type(mod).__name__ == "Linear4bit"}
    m.close()
    assert dtypes == {getattr(torch, expected)}
