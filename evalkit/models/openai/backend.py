"""OpenAI-compatible HTTP backend: models served by vLLM, TGI, llama.cpp's server, Ollama, `transformers serve`.

Each story is one streamed request (``stream=true``) so time to first token is measured per story;
requests run concurrently up to ``concurrency``. Retries with exponential backoff cover 429, 408,
5xx, timeouts and dropped connections; a story that still fails comes back with ``error`` set and
empty text, so the runner keeps the rest and retries it on the next run.

Sampling parameters sent: max_new_tokens -> max_tokens, temperature (0 when do_sample is false),
top_p, seed. top_k and repetition_penalty are not OpenAI fields (strict servers reject unknown
fields, and frequency_penalty is additive, not HF's multiplicative penalty), so they are not sent;
pass them through ``extra_body`` under the name your server uses (vLLM: ``top_k``,
``repetition_penalty``; llama.cpp: ``top_k``, ``repeat_penalty``). A story generated with such a
parameter left out says so in ``extra["params_not_sent"]``.

Tokens come from the server's ``usage`` (requested with ``stream_options.include_usage``). When a
server sends none, ``tokenizer`` (a local tokenizer folder) counts them exactly; otherwise the
number of streamed content chunks stands in for completion tokens (one token per chunk on vLLM,
TGI and llama.cpp), and ``extra["token_count"]`` says which source was used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import ValidationError

from evalkit.errors import EvalkitError
from evalkit.models.base import Model, ModelSpec, Request, files_fingerprint
from evalkit.models.openai.options import NOT_IDENTITY, OpenAIOptions
from evalkit.models.openai.transport import run_sync, send_all, wall_shares
from evalkit.models.openai.wire import Result, endpoint_path, params_not_sent, request_body
from evalkit.models.redact import redact
from evalkit.records import Generation, GenerationParams, ModelInfo, stable_hash


class OpenAIModel(Model):
    remote: ClassVar[bool] = True
    options_model: ClassVar[type[OpenAIOptions]] = OpenAIOptions

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self._problem: str | None = None
        try:
            self.opts = OpenAIOptions.model_validate(spec.options)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(map(str, err["loc"])) or "options"
            self._problem = f"model {spec.label!r} (backend openai): option {where}: {err['msg']}"
            self.opts = None  # type: ignore[assignment]
        self._served: list[str] | None = None
        self._model_name: str | None = self.opts.model if self.opts else None
        self._tokenizer: Any = None

    # -- identity ---------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        opts = {k: v for k, v in self.spec.options.items() if k not in NOT_IDENTITY}
        model = self.spec.options.get("model")
        # When the server runs here, `model` is often a local folder: its files join the key.
        files = files_fingerprint({"model": model}) if isinstance(model, str) else []
        return stable_hash({"backend": "openai", "options": opts, "files": files})

    def availability(self) -> str | None:
        if self._problem:
            return self._problem
        if self.opts.api_key_env and not os.environ.get(self.opts.api_key_env):
            return f"the API key variable {self.opts.api_key_env} is not set"
        import httpx

        try:  # any HTTP answer, even 404, means a server is listening
            httpx.get(f"{self.opts.base_url}/models", headers=self._headers(),
                      timeout=min(3.0, self.opts.connect_timeout_s))
        except httpx.HTTPError as e:
            return f"no server answers at {self.opts.base_url} ({type(e).__name__}): start it or fix base_url"
        return None

    # -- lifecycle --------------------------------------------------------------------------------
    def load(self) -> None:
        """Check the server answers (and accepts the key); learn the served model names."""
        if self._problem:
            raise EvalkitError(self._problem)
        import httpx

        url = f"{self.opts.base_url}/models"
        try:
            r = httpx.get(url, headers=self._headers(), timeout=httpx.Timeout(
                self.opts.timeout_s, connect=self.opts.connect_timeout_s))
        except httpx.HTTPError as e:
            raise EvalkitError(f"{self.spec.label}: cannot reach {url}: {self._redact(str(e) or type(e).__name__)}"
                               " (is the server running? base_url usually ends in /v1)") from None
        if r.status_code in (401, 403):
            hint = f" in ${self.opts.api_key_env}" if self.opts.api_key_env else "; set api_key_env"
            raise EvalkitError(f"{self.spec.label}: {url} refused the API key (HTTP {r.status_code}){hint}")
        if r.status_code == 200:
            try:
                self._served = [str(m["id"]) for m in r.json().get("data", []) if isinstance(m, dict)]
            except (ValueError, AttributeError, KeyError):
                self._served = None
        if self._model_name is None:
            if not self._served or len(self._served) != 1:
                listed = ", ".join(self._served or []) or "none listed"
                raise EvalkitError(f"{self.spec.label}: set model = one of the served models ({listed})")
            self._model_name = self._served[0]
        if self.opts.tokenizer:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.opts.tokenizer)
            except (OSError, ValueError) as e:
                raise EvalkitError(f"{self.spec.label}: tokenizer {self.opts.tokenizer}: {e}") from None

    def describe(self) -> ModelInfo:
        o = self.opts
        return ModelInfo(
            name=self._model_name or self.spec.label, backend="openai",
            source=f"{o.base_url} ({o.endpoint})" if o else "", device="remote",
            chat_template=bool(o and o.endpoint == "chat"),
            extra={"base_url": o.base_url, "endpoint": o.endpoint, "concurrency": o.concurrency,
                   "served_models": self._served, "api_key_env": o.api_key_env} if o else {},
        )

    def chunk_size(self, params: GenerationParams) -> int:
        # every request in a chunk is in flight at once: let the concurrency limit, not the batch size, bound it
        return max(params.batch_size, self.opts.concurrency if self.opts else 1)

    # -- generation -------------------------------------------------------------------------------
    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Generation]:
        if self._problem:
            raise EvalkitError(self._problem)
        if not requests:
            return []
        if self._model_name is None:  # the name comes from the server's /models
            self.load()
        o = self.opts
        url = f"{o.base_url}/{endpoint_path(o)}"
        bodies = [request_body(o, self._model_name, req, params) for req in requests]
        results = run_sync(send_all(o, self._headers(), url, bodies))
        # the key must never reach generations.jsonl or a report, even when a server echoes the request
        results = [self._redact(r) if isinstance(r, str) else r for r in results]
        unsent = params_not_sent(params, o.extra_body)
        for req, r in zip(requests, results):
            if isinstance(r, Result):
                self._count_tokens(r, req)
                if unsent:
                    r.extra["params_not_sent"] = unsent
        shares = wall_shares([(r.start, r.end) if isinstance(r, Result) else None for r in results])
        gens: list[Generation] = []
        for r, share in zip(results, shares):
            if isinstance(r, str):
                gens.append(Generation(text="", error=r.removeprefix("fatal: ")))
                continue
            latency = r.end - r.start
            extra = {**r.extra, "finish_reason": r.finish_reason, "concurrency": self.opts.concurrency,
                     "wall_share_s": share,
                     # stories sharing the wall time of this request, as hf's batch size does
                     "batch_n": max(1, round(latency / share)) if share else 1}
            gens.append(Generation(text=r.text, prompt_tokens=r.prompt_tokens,
                                   completion_tokens=r.completion_tokens, latency_s=latency,
                                   ttft_s=r.ttft_s, extra=extra))
        _raise_if_all_fatal(self.spec.label, results)
        return gens

    def answer_with_logprobs(self, requests: Sequence[Request], max_tokens: int = 4, top_logprobs: int = 20,
                             max_retries: int | None = None) -> list[Result | str]:
        """Greedy short answers with the ``top_logprobs`` alternatives of each answer token (a judge
        reading its rating's probabilities), through the same transport as ``generate``: a Result each,
        or the line saying why it failed. ``max_retries`` lowers the preset's retries for this call."""
        if self._problem:
            raise EvalkitError(self._problem)
        if self._model_name is None:
            self.load()
        o = self.opts if max_retries is None else self.opts.model_copy(
            update={"max_retries": min(max_retries, self.opts.max_retries)})
        params = GenerationParams(max_new_tokens=max_tokens, do_sample=False, seed=0)
        bodies = [request_body(o, self._model_name, req, params, logprobs=top_logprobs) for req in requests]
        results = run_sync(send_all(o, self._headers(), f"{o.base_url}/{endpoint_path(o)}", bodies))
        return [self._redact(r).removeprefix("fatal: ") if isinstance(r, str) else r for r in results]

    # -- helpers ----------------------------------------------------------------------------------
    def _api_key(self) -> str | None:
        return os.environ.get(self.opts.api_key_env) if self.opts and self.opts.api_key_env else None

    def _headers(self) -> dict[str, str]:
        key = self._api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _redact(self, text: str) -> str:
        return redact(text, [self._api_key()])

    def _count_tokens(self, r: Result, req: Request) -> None:
        if r.completion_tokens is not None:
            r.extra["token_count"] = "usage"
        elif self._tokenizer is not None:
            tok = self._tokenizer
            r.completion_tokens = len(tok.encode(r.text, add_special_tokens=False))
            if self.opts.endpoint == "chat" and getattr(tok, "chat_template", None):
                msgs = [{"role": "system", "content": req.system}, {"role": "user", "content": req.user}]
                r.prompt_tokens = len(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                                              return_dict=True)["input_ids"])
            else:
                r.prompt_tokens = len(tok.encode(req.plain_prompt if self.opts.endpoint == "completions"
                                                 else f"{req.system}\n{req.user}"))
            r.extra["token_count"] = "tokenizer"
        elif r.chunks:
            r.completion_tokens = r.chunks
            r.extra["token_count"] = "stream_chunks"


def _raise_if_all_fatal(label: str, results: list[Result | str]) -> None:
    """Every story failing the same non-transient way is a setup problem: one clear line."""
    errors = {r for r in results if isinstance(r, str)}
    if len(errors) == 1 and all(isinstance(r, str) for r in results):
        (msg,) = errors
        if msg.startswith("fatal: "):
            raise EvalkitError(f"{label}: every story failed: {msg.removeprefix('fatal: ')}")
