"""Training examples from suite items, prompted exactly as `compare` will prompt the fine-tuned model:
the seed's plain text format, or the chat template (system + user turn, the story as the assistant
turn). Labels are -100 on the prompt, so the loss counts only the story tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.suites import Suite, SuiteItem

IGNORE = -100  # the label value torch's cross-entropy skips


@dataclass
class DataStats:
    examples: int = 0
    tokens: int = 0  # prompt + story tokens, one pass over the split
    story_tokens: int = 0  # the tokens the loss counts
    truncated: int = 0
    dropped: list[str] = field(default_factory=list)  # items whose prompt alone fills max_length


def resolve_format(fmt: str, tokenizer: Any, chat_option: bool = True) -> str:
    """``auto`` follows the hf backend: the chat template when the tokenizer has one (and the model's
    ``chat`` option is not false), else the plain format."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if fmt == "auto":
        return "chat" if has_template and chat_option else "plain"
    if fmt == "chat" and not has_template:
        raise EvalkitError("the recipe prompts with the model's chat template (format = \"chat\") but its tokenizer "
                           "has none: use --set format=plain, or a recipe for base models (--recipe full)")
    return fmt


def chat_prompt(tokenizer: Any, system: str, user: str) -> tuple[str, list[dict[str, str]]]:
    """The generation prompt and messages, with the hf backend's fallback for templates without a system role."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    try:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False), messages
    except Exception:
        messages = [{"role": "user", "content": f"{system}\n\n{user}"}]
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False), messages


def split_example(suite: Suite, item: SuiteItem, tokenizer: Any, fmt: str) -> tuple[list[int], list[int]]:
    """(prompt ids, story ids), tokenized apart so the boundary is exact."""
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if fmt == "plain":
        # the hf backend encodes plain prompts with the tokenizer's usual special tokens
        prompt_ids = tokenizer(suite.render(item, "base"))["input_ids"]
        story_ids = tokenizer(" " + item.story.strip(), add_special_tokens=False)["input_ids"] + eos
    else:
        prompt, messages = chat_prompt(tokenizer, suite.render(item, "system"), suite.render(item, "chat"))
        full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": item.story.strip()}],
                                             tokenize=False)
        # the template's end-of-turn markers belong to the story: the model learns to stop
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if full.startswith(prompt):
            story_ids = tokenizer(full[len(prompt):], add_special_tokens=False)["input_ids"]
        else:
            story_ids = tokenizer(item.story.strip(), add_special_tokens=False)["input_ids"] + eos
    return list(prompt_ids), list(story_ids)


def build_examples(suite: Suite, items: list[SuiteItem], tokenizer: Any, fmt: str,
                   max_length: int) -> tuple[list[dict[str, list[int]]], DataStats]:
    stats = DataStats()
    out = []
    for item in items:
        prompt_ids, story_ids = split_example(suite, item, tokenizer, fmt)
        if len(prompt_ids) >= max_length:
            stats.dropped.append(item.id)
            continue
        keep = story_ids[: max_length - len(prompt_ids)]
        stats.truncated += len(keep) < len(story_ids)
        ids = prompt_ids + keep
        out.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [IGNORE] * len(prompt_ids) + keep})
        stats.examples += 1
        stats.tokens += len(ids)
        stats.story_tokens += len(keep)
    return out, stats
