"""Builders of tiny random-weight models saved locally (no hub). Fixtures in conftest.py use them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CORPUS = [
    "Once there was a small dragon who could not breathe fire.",
    "The explorers climbed the mountain and found a hidden lake.",
    "A robot on the space station fixed the broken water pump.",
    "Who took the hamster's food? The clue was a trail of seeds.",
    "Long ago the river goddess taught the water how to sing.",
    "[GENRE] [CHARACTERS] [PROMPT] [STORY] Adventure Fantasy Mystery Mythology Sci-Fi",
]


def build_tokenizer(out: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|pad|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 5, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   pad_token="<|pad|>", model_max_length=512)
    fast.save_pretrained(out)
    return out


def _save_tokenizer(src: Path, dst: Path, chat: bool) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(src)
    if chat:
        tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(dst)


def build_tiny_gpt2(out: Path, tokenizer_dir: Path) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    _save_tokenizer(tokenizer_dir, out, chat=False)
    cfg = GPT2Config(vocab_size=402, n_positions=512, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=0, eos_token_id=0, pad_token_id=1)
    GPT2LMHeadModel(cfg).save_pretrained(out)
    return out


def build_tiny_llama(out: Path, tokenizer_dir: Path, hidden: int = 64, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    _save_tokenizer(tokenizer_dir, out, chat=True)
    cfg = LlamaConfig(vocab_size=402, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=0, eos_token_id=0, pad_token_id=1)
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


def build_lora(base_dir: Path, out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                     init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(base, cfg).save_pretrained(out)
    return out


def shape_only(src: Path, out: Path, **config: object) -> Path:
    """``src`` without its weights (random weights read the configuration and tokenizer only), with
    ``config`` written over its config.json (e.g. num_hidden_layers=4)."""
    for f in src.iterdir():
        if f.is_file() and not f.name.endswith(".safetensors"):
            shutil.copy(f, out / f.name)
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, **config}))
    return out
