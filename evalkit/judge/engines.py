"""How a judge model answers: probabilities over the answers when the backend gives them, else samples.

- LogitsEngine (hf): one forward pass over the rendered chat prompt, batched with left padding;
  the next-token distribution gives p("1").."5" (or p("A"), p("B")).
- ServerEngine (openai): ``top_logprobs`` of the first answer token, through the openai backend's
  transport; a server that sends no logprobs switches the judge to sampling, recorded in every verdict.
- LlamaCppEngine: llama-cpp-python's chat completion with logprobs; where that fails, sampling.
- SamplingEngine (any backend): the mean of N sampled answers through ``Model.generate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.judge.expected import expected_value, normalise, probs_from_top_logprobs, rating_values
from evalkit.judge.parse import parse_choice, says_tie
from evalkit.judge.prompts import JudgePrompt
from evalkit.models.base import Model, Request
from evalkit.records import GenerationParams

DEFAULT_SAMPLES = 5
TOP_LOGPROBS = 20  # the most OpenAI's API accepts; vLLM and llama.cpp's server accept it too


@dataclass
class Verdict:
    """One answer of the judge: ``value`` is the expected rating (or the probability that the first
    story is preferred); None when no answer could be read, with the reason in ``note``."""

    value: float | None
    method: str
    probs: dict[str, float] | None = None
    coverage: float | None = None  # probability mass on the answers before renormalising
    raw: str = ""
    note: str | None = None
    n_samples: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Engine:
    method = "?"

    def identity(self) -> str:
        """What changes the numbers besides the model and prompt (part of the cache key)."""
        return self.method

    def ask(self, prompts: Sequence[JudgePrompt]) -> list[Verdict]:
        raise NotImplementedError


def _request(p: JudgePrompt) -> Request:
    return Request(item_id="judge", genre="", characters=(), prompt="", plain_prompt=p.plain,
                   system=p.system, user=p.user)


def from_probs(probs: dict[str, float], choices: tuple[str, ...], method: str, raw: str = "") -> Verdict:
    norm, mass = normalise(probs, choices)
    if not norm:
        return Verdict(None, method, raw=raw, note=f"the judge put no probability on {'/'.join(choices)}")
    return Verdict(expected_value(norm, rating_values(choices)), method, norm, mass, raw)


class LogitsEngine(Engine):
    """G-Eval from an evalkit HFModel that is loaded (its ``.model``/``.tokenizer``)."""

    method = "logits"

    def __init__(self, hf: Any, batch_size: int = 8):
        self.hf = hf
        self.batch_size = max(1, batch_size)
        self.forward_calls = 0  # batches run, for tests and throughput figures
        self._ids: dict[str, list[int]] = {}

    def _choice_ids(self, choice: str) -> list[int]:
        """Token ids spelling the answer alone, with and without a leading space."""
        if choice not in self._ids:
            ids: set[int] = set()
            for variant in (choice, " " + choice):
                enc = self.hf.tokenizer.encode(variant, add_special_tokens=False)
                if len(enc) == 1:
                    ids.add(int(enc[0]))
            self._ids[choice] = sorted(ids)
        return self._ids[choice]

    def _max_len(self) -> int:
        cfg = getattr(self.hf.model, "config", None)
        n = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
        return int(n) if n else 1 << 30

    def ask(self, prompts: Sequence[JudgePrompt]) -> list[Verdict]:
        hf = self.hf
        texts = [hf.render(_request(p)) for p in prompts]
        encoded = [hf.tokenizer(t, add_special_tokens=not hf.use_chat)["input_ids"] for t in texts]
        out: list[Verdict | None] = [None] * len(prompts)
        limit = self._max_len()
        ok = []
        for i, ids in enumerate(encoded):
            if len(ids) > limit:
                out[i] = Verdict(None, self.method, note=f"prompt of {len(ids)} tokens exceeds the judge's {limit}")
            elif not any(self._choice_ids(c) for c in prompts[i].choices):
                out[i] = Verdict(None, self.method, note="the judge's tokenizer has no single token for the answers")
            else:
                ok.append(i)
        ok.sort(key=lambda i: len(encoded[i]))  # similar lengths batch together: less padding
        for start in range(0, len(ok), self.batch_size):
            idx = ok[start : start + self.batch_size]
            dists = self._next_token_probs([encoded[i] for i in idx])
            for i, dist in zip(idx, dists):
                probs = {c: float(sum(dist[t] for t in self._choice_ids(c))) for c in prompts[i].choices}
                out[i] = from_probs(probs, prompts[i].choices, self.method)
        return [v for v in out if v is not None]

    def _next_token_probs(self, batch: list[list[int]]) -> list[Any]:
        import torch

        tok, model = self.hf.tokenizer, self.hf.model
        enc = tok.pad({"input_ids": batch}, padding=True, return_tensors="pt")
        mask = enc["attention_mask"].to(model.device)
        ids = enc["input_ids"].to(model.device)
        # left padding: positions count real tokens only, so a padded prompt reads as it does alone
        pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
        self.forward_calls += 1
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1, :]
        return torch.softmax(logits.float(), dim=-1).cpu().tolist()


class SamplingEngine(Engine):
    """The mean of ``n`` sampled answers (temperature 1), for backends that give no probabilities."""

    method = "sampled_mean"

    def __init__(self, model: Model, n: int = DEFAULT_SAMPLES, batch_size: int = 8, max_new_tokens: int = 8):
        self.model, self.n, self.batch_size, self.max_new_tokens = model, max(1, n), batch_size, max_new_tokens

    def identity(self) -> str:
        return f"{self.method}:{self.n}"

    def ask(self, prompts: Sequence[JudgePrompt], why: str = "") -> list[Verdict]:
        reqs = [_request(p) for p in prompts]
        answers: list[list[str]] = [[] for _ in prompts]
        errors: list[str | None] = [None] * len(prompts)
        for s in range(self.n):
            params = GenerationParams(max_new_tokens=self.max_new_tokens, temperature=1.0, top_p=1.0,
                                      do_sample=True, seed=1000 + s, batch_size=self.batch_size)
            gens = self.model.generate(reqs, params)
            for i, g in enumerate(gens):
                if g.error:
                    errors[i] = g.error
                else:
                    answers[i].append(g.text)
        out = []
        for p, texts, err in zip(prompts, answers, errors):
            values = rating_values(p.choices)
            got = []
            for t in texts:
                c = parse_choice(t, p.choices)
                if c is not None:
                    got.append(values[c])
                elif len(p.choices) == 2 and says_tie(t):
                    got.append(0.5)
            raw = " | ".join(t.strip()[:80] for t in texts)[:400]
            note = f"sampled {len(got)} readable answer(s) of {self.n}" + (f" ({why})" if why else "")
            if not got:
                note = (f"judge failed: {err}" if err and not texts
                        else f"no readable answer in {len(texts)} sample(s): {raw!r}")
                out.append(Verdict(None, self.method, raw=raw, note=note, n_samples=0))
                continue
            mean = sum(got) / len(got)
            counts = {c: sum(1 for v in got if v == values[c]) / len(got) for c in p.choices}
            out.append(Verdict(mean, self.method, counts, None, raw, note, n_samples=len(got)))
        return out


class ServerEngine(Engine):
    """An OpenAI-compatible server: top_logprobs of the answer token, asked through the openai backend's
    own transport (OpenAIModel.answer_with_logprobs); sampling when the server sends none."""

    method = "logprobs"
    max_retries = 2  # a judge that is down should cost seconds, not the preset's long backoff per question

    def __init__(self, model: Model, samples: int = DEFAULT_SAMPLES, batch_size: int = 8):
        self.model = model
        self.fallback = SamplingEngine(model, samples, batch_size)
        self.has_logprobs: bool | None = None  # learnt from the first answer

    def identity(self) -> str:
        # stable whatever the server turns out to send: the record's ``method`` says which was used
        return f"server:{self.fallback.identity()}"

    def ask(self, prompts: Sequence[JudgePrompt]) -> list[Verdict]:
        if self.has_logprobs is False:
            return self.fallback.ask(prompts, "the server sends no logprobs")
        answers = self.model.answer_with_logprobs([_request(p) for p in prompts], max_tokens=4,  # type: ignore[attr-defined]
                                                  top_logprobs=TOP_LOGPROBS, max_retries=self.max_retries)
        readable = [a for a in answers if not isinstance(a, str)]
        if self.has_logprobs is None and readable:
            self.has_logprobs = any(a.top_logprobs for a in readable)
            if not self.has_logprobs:
                return self.fallback.ask(prompts, "the server sends no logprobs")
        return [Verdict(None, self.method, note=f"judge failed: {a}") if isinstance(a, str) else _from_answer(p, a, self.method)
                for p, a in zip(prompts, answers)]


def _from_answer(p: JudgePrompt, a: Any, method: str) -> Verdict:
    """The verdict in an answer with logprobs (a wire.Result): the first answer token's alternatives."""
    # the first answer token: skip leading tokens that are blanks or markup ("**", " ")
    for tok, top in zip(a.tokens or [], a.top_logprobs or []):
        if tok.strip() in p.choices:
            return from_probs(probs_from_top_logprobs(top, p.choices), p.choices, method, a.text)
        if tok.strip() and tok.strip().strip("*#:_`") != "":
            break
    if a.top_logprobs:  # no answer token sampled: the first position's alternatives may still hold one
        probs = probs_from_top_logprobs(a.top_logprobs[0], p.choices)
        if probs:
            return from_probs(probs, p.choices, method, a.text)
    return Verdict(None, method, raw=a.text, note=f"unreadable answer {a.text[:200]!r}")


class LlamaCppEngine(Engine):
    """llama-cpp-python in process: logprobs of the answer token when the Llama object gives them."""

    method = "logprobs"

    def __init__(self, model: Model, samples: int = DEFAULT_SAMPLES, batch_size: int = 8):
        self.model = model
        self.fallback = SamplingEngine(model, samples, batch_size)
        self.works = True

    def identity(self) -> str:
        return f"llamacpp:{self.fallback.identity()}"

    def ask(self, prompts: Sequence[JudgePrompt]) -> list[Verdict]:
        from evalkit.models.openai.wire import read_response

        llm = getattr(self.model, "_llm", None)
        out: list[Verdict] = []
        for p in prompts:
            if not self.works or llm is None:
                self.works = False
                return out + self.fallback.ask(prompts[len(out):], "llama.cpp gave no logprobs")
            try:
                resp = llm.create_chat_completion(
                    messages=[{"role": "system", "content": p.system}, {"role": "user", "content": p.user}],
                    max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=TOP_LOGPROBS)
            except Exception:  # built without logits_all, or an old version: no logprobs here
                self.works = False
                return out + self.fallback.ask(prompts[len(out):], "llama.cpp gave no logprobs")
            a = read_response(resp, "chat")  # llama-cpp-python answers in the OpenAI chat format
            out.append(Verdict(None, self.method, note=f"unreadable answer: {a}") if isinstance(a, str)
                       else _from_answer(p, a, self.method))
        return out


def engine_for(model: Model, batch_size: int = 8, samples: int = DEFAULT_SAMPLES) -> Engine:
    backend = model.spec.backend
    if backend == "hf" and getattr(model, "model", None) is not None and getattr(model, "tokenizer", None) is not None:
        return LogitsEngine(model, batch_size)
    if backend == "openai" and hasattr(model, "answer_with_logprobs"):
        return ServerEngine(model, samples, batch_size)
    if backend == "llamacpp":
        return LlamaCppEngine(model, samples, batch_size)
    return SamplingEngine(model, samples, batch_size)
