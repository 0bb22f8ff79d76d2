"""Prompt lengths for timing: the suite's prompts rendered as the hf backend renders them (chat template
or the plain format) and counted by the model's own tokenizer when it is on this machine; otherwise by
the released tokenizer's pre-tokenization rule (its regex, shipped in the shape file) with special
tokens counted one each: a lower bound, exact for text whose words are all in the vocabulary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from evalkit.records import PromptLengths
from evalkit.errors import EvalkitError
from evalkit.finetune.data import chat_prompt
from evalkit.models.base import Request
from evalkit.models.random_weights import ShapeSource, TokenizerShape
from evalkit.suites import Suite


def prompt_lengths(suite: Suite, split: str, source: ShapeSource, chat_option: bool) -> PromptLengths:
    items = [i for i in suite.items if i.split == split]
    if not items:
        raise EvalkitError(f"suite {suite.name!r} has no items in split {split!r}: choose one of {', '.join(suite.splits)}")
    requests = [Request.from_item(suite, i) for i in items]
    if source.tokenizer_folder:
        lengths, fmt = _count_with_tokenizer(source.tokenizer_folder, requests, chat_option)
        counted, exact = f"the model's tokenizer ({source.tokenizer_folder})", True
    elif source.tokenizer_shape is not None:
        lengths, fmt = _count_pretokens(source.tokenizer_shape, requests, chat_option)
        counted, exact = ("pre-token count with the released tokenizer's split rule and special tokens (the "
                          "tokenizer is not on this machine): a lower bound"), False
    else:
        raise EvalkitError(f"{source.origin}: no tokenizer beside the configuration, so prompt lengths are unknown")
    by_id = {r.item_id: n for r, n in zip(requests, lengths)}
    median = sorted(by_id, key=lambda k: (by_id[k], k))[(len(by_id) - 1) // 2]
    return PromptLengths(format=fmt, counted_by=counted, exact=exact, split=split, lengths=by_id, batch1_item=median)


def _count_with_tokenizer(folder: str, requests: list[Request], chat_option: bool) -> tuple[list[int], str]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False, local_files_only=not Path(folder).exists())
    chat = chat_option and bool(getattr(tok, "chat_template", None))
    out = []
    for r in requests:
        # as HFModel.generate: chat templates hold BOS, plain prompts get the tokenizer's special tokens
        text = chat_prompt(tok, r.system, r.user)[0] if chat else r.plain_prompt
        out.append(len(tok(text, add_special_tokens=not chat)["input_ids"]))
    return out, "chat" if chat else "plain"


def _count_pretokens(shape: TokenizerShape, requests: list[Request], chat_option: bool) -> tuple[list[int], str]:
    chat = chat_option and bool(shape.chat_template)
    out = []
    for r in requests:
        if chat:
            text = render_chat(shape, [{"role": "system", "content": r.system}, {"role": "user", "content": r.user}])
            out.append(count_pretokens(shape, text))
        else:
            out.append(count_pretokens(shape, r.plain_prompt) + shape.plain_prefix_tokens)
    return out, "chat" if chat else "plain"


def render_chat(shape: TokenizerShape, messages: list[dict[str, str]]) -> str:
    """The chat template rendered as transformers renders it (sandboxed jinja, trim/lstrip blocks)."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    assert shape.chat_template is not None
    return env.from_string(shape.chat_template).render(messages=messages, bos_token=shape.bos_token or "",
                                                       add_generation_prompt=True)


def count_pretokens(shape: TokenizerShape, text: str) -> int:
    """Special tokens count one each; the text between them one per pre-token of the tokenizer's regex."""
    from tokenizers import Regex, pre_tokenizers

    splitter: Any = pre_tokenizers.Split(Regex(shape.pretokenizer), behavior="isolated")
    specials = sorted(shape.special_tokens, key=len, reverse=True)
    parts = re.split("(" + "|".join(map(re.escape, specials)) + ")", text) if specials else [text]
    n = 0
    for part in parts:
        if not part:
            continue
        n += 1 if part in specials else len(splitter.pre_tokenize_str(part))
    return n
