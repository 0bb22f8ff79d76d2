"""Recipes as data (strict keys, overrides) and training examples (loss only on story tokens, prompted
exactly as `compare` prompts the fine-tuned model)."""

from __future__ import annotations

import pytest

from evalkit.errors import EvalkitError
from evalkit.finetune.data import IGNORE, build_examples, resolve_format, split_example
from evalkit.recipes import default_recipe, load_recipe, recipe_names, validate_recipe
from evalkit.models.base import ModelSpec, Request
from evalkit.suites import load_suite


def test_builtin_recipes_hold_the_seed_settings():
    assert {"full", "qlora", "lora"} <= set(recipe_names())
    full, _ = load_recipe("full")
    assert (full.method, full.format, full.max_length) == ("full", "plain", 512)
    assert full.keep_best and full.eval_every == "epoch"
    assert full.optimizer.startswith("adamw")
    q, _ = load_recipe("qlora")
    assert (q.method, q.quantization, q.compute_dtype) == ("lora", "nf4", "bfloat16")
    assert (q.format, q.max_length, q.epochs) == ("chat", 1024, 3)
    assert (q.lora.r, q.lora.alpha, q.lora.dropout) == (16, 32, 0.05)
    assert q.lora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert q.learning_rate == 2e-4 and q.warmup > 0 and q.optimizer.startswith("paged_adamw")
    assert q.batch_size * q.gradient_accumulation_steps == 8
    lora, _ = load_recipe("lora")
    assert lora.quantization == "none" and lora.saves_adapter


def test_unknown_keys_are_named_in_files_and_overrides(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('name = "mine"\nmethod = "lora"\nepochz = 3\n[lora]\nrank = 8\n')
    with pytest.raises(EvalkitError, match=r"unknown key\(s\) epochz, lora\.rank") as e:
        load_recipe(str(f))
    assert str(f) in str(e.value)
    with pytest.raises(EvalkitError, match=r"unknown key\(s\) warmup_ratio"):
        load_recipe("full", {"warmup_ratio": 0.1})
    with pytest.raises(EvalkitError, match="learning_rate"):
        load_recipe("full", {"learning_rate": -1})
    with pytest.raises(EvalkitError, match="unknown recipe 'fulll'"):
        load_recipe("fulll")


def test_overrides_apply_before_validation():
    r, _ = load_recipe("qlora", {"epochs": 1, "lora.r": 8, "eval_every": 5})
    assert r.epochs == 1 and r.lora.r == 8 and r.eval_every == 5 and r.lora.alpha == 32
    with pytest.raises(EvalkitError, match="4-bit base cannot be fully fine-tuned"):
        validate_recipe({"name": "x", "method": "full", "quantization": "nf4"})


def test_default_recipe_per_model():
    assert default_recipe("distilgpt2", {}) == "full"
    assert default_recipe("llama3-qlora", {"quantization": "nf4"}) == "qlora"
    assert default_recipe("my-4bit", {"quantization": "nf4"}) == "qlora"
    assert default_recipe("smollm2-135m", {}) == "lora"


@pytest.fixture(scope="module")
def smoke():
    return load_suite("smoke")


def test_plain_examples_mask_the_prompt(smoke, tiny_gpt2_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    item = smoke.items[0]
    examples, stats = build_examples(smoke, [item], tok, "plain", 4096)
    ex = examples[0]
    n_prompt = sum(1 for label in ex["labels"] if label == IGNORE)
    # the masked part is exactly the prompt `compare` sends to a base model
    assert tok.decode(ex["input_ids"][:n_prompt]) == Request.from_item(smoke, item).plain_prompt
    story = [t for t in ex["labels"] if t != IGNORE]
    assert story == ex["input_ids"][n_prompt:] and story[-1] == tok.eos_token_id
    assert tok.decode(story[:-1]).strip() == item.story.strip()
    assert stats.story_tokens == len(story) and stats.tokens == len(ex["input_ids"])


def test_truncation_keeps_the_prompt(smoke, tiny_gpt2_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    prompt_ids, _ = split_example(smoke, smoke.items[0], tok, "plain")
    examples, stats = build_examples(smoke, smoke.items[:1], tok, "plain", len(prompt_ids) + 5)
    assert len(examples[0]["input_ids"]) == len(prompt_ids) + 5 and stats.truncated == 1
    examples, stats = build_examples(smoke, smoke.items[:1], tok, "plain", len(prompt_ids))
    assert examples == [] and stats.dropped == [smoke.items[0].id]


def test_chat_examples_use_the_prompt_the_hf_backend_renders(smoke, tiny_llama_dir):
    from transformers import AutoTokenizer

    from evalkit.models.hf import HFModel

    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    assert resolve_format("auto", tok) == "chat" and resolve_format("auto", tok, chat_option=False) == "plain"
    backend = HFModel(ModelSpec("t", "hf", {"source": str(tiny_llama_dir)}))
    backend.tokenizer, backend.use_chat = tok, True
    item = smoke.items[1]
    prompt_ids, story_ids = split_example(smoke, item, tok, "chat")
    assert tok.decode(prompt_ids) == backend.render(Request.from_item(smoke, item))
    # the assistant turn, end-of-turn marker included, is what the loss sees
    assert tok.decode(story_ids).startswith(item.story.strip()) and tok.decode(story_ids) != item.story.strip()


def test_chat_format_needs_a_chat_template(tiny_gpt2_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    assert resolve_format("auto", tok) == "plain"
    with pytest.raises(EvalkitError, match="has none"):
        resolve_format("chat", tok)


def test_labels_give_the_story_only_loss(smoke, tiny_gpt2_dir):
    """The model's loss with our labels equals cross-entropy over the story positions alone."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

    tok = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_gpt2_dir).eval()
    examples, _ = build_examples(smoke, smoke.items[:2], tok, "plain", 512)
    batch = DataCollatorForSeq2Seq(tok, padding=True)(examples)
    with torch.no_grad():
        out = model(**batch)
    logits, labels = out.logits[:, :-1], batch["labels"][:, 1:]
    keep = labels != IGNORE
    manual = torch.nn.functional.cross_entropy(logits[keep], labels[keep])
    assert keep.sum() == sum(len([t for t in e["labels"] if t != IGNORE]) for e in examples)
    assert torch.allclose(out.loss, manual, atol=1e-5)


def test_a_set_typo_is_blamed_on_the_key_and_the_recipe_in_use():
    with pytest.raises(EvalkitError) as e:
        load_recipe("full", {"warmpu": 0.1})
    msg = str(e.value)
    assert msg.startswith("--set warmpu: recipe 'full' in use (") and "full.toml" in msg and "lora.toml" not in msg
    with pytest.raises(EvalkitError, match=r"^--set learning_rate: recipe 'qlora' in use .*learning_rate: Input"):
        load_recipe("qlora", {"learning_rate": -1})
