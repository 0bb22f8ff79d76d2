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

import asyncio
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalkit.errors import EvalkitError
from evalkit.models.base import Model, ModelSpec, Request, files_fingerprint
from evalkit.records import Generation, GenerationParams, ModelInfo, stable_hash


class OpenAIOptions(BaseModel):
    """Options of a ``backend = "openai"`` preset. Unknown keys are an error (typos fail loudly)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str  # e.g. http://127.0.0.1:8000/v1
    model: str | None = None  # the served model name; None: the only one /models lists
    endpoint: Literal["chat", "completions"] = "chat"
    api_key_env: str | None = None  # NAME of the env var holding the key; the key is never stored
    timeout_s: float = Field(300.0, gt=0)  # whole request, first byte to last
    connect_timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(4, ge=0)
    backoff_s: float = Field(1.0, ge=0)  # first wait; doubles each retry
    max_backoff_s: float = Field(30.0, ge=0)
    concurrency: int = Field(4, ge=1)
    stream: bool = True
    extra_body: dict[str, Any] = Field(default_factory=dict)  # merged into every request; null deletes
    tokenizer: str | None = None  # local tokenizer folder, counts tokens when the server sends no usage

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1)")
        return v.rstrip("/")


# Options that change speed or bookkeeping, never the text: left out of the cache key.
_NOT_IDENTITY = {"api_key_env", "timeout_s", "connect_timeout_s", "max_retries", "backoff_s",
                 "max_backoff_s", "concurrency", "stream", "tokenizer"}


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Fatal(Exception):
    """A failure that retrying the same request will not fix (4xx, bad JSON, an error in the stream)."""


@dataclass
class _Result:
    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    chunks: int = 0
    finish_reason: str | None = None
    ttft_s: float | None = None
    start: float = 0.0
    end: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class OpenAIModel(Model):
    remote: ClassVar[bool] = True

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
        opts = {k: v for k, v in self.spec.options.items() if k not in _NOT_IDENTITY}
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
            raise EvalkitError(f"{self.spec.label}: cannot reach {url}: {e or type(e).__name__}"
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
        results = _run(self._generate_all(list(requests), params))
        shares = _wall_shares([(r.start, r.end) if isinstance(r, _Result) else None for r in results])
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

    async def _generate_all(self, requests: list[Request], params: GenerationParams) -> list[_Result | str]:
        import httpx

        o = self.opts
        sem = asyncio.Semaphore(o.concurrency)
        timeout = httpx.Timeout(o.timeout_s, connect=o.connect_timeout_s)
        limits = httpx.Limits(max_connections=o.concurrency, max_keepalive_connections=o.concurrency)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=self._headers()) as client:
            return list(await asyncio.gather(*(self._one(client, sem, req, params) for req in requests)))

    async def _one(self, client: Any, sem: asyncio.Semaphore, req: Request,
                   params: GenerationParams) -> _Result | str:
        """One story with retries: a _Result, or the error line ("fatal: ..." when not retryable)."""
        o = self.opts
        body = self._body(req, params)
        url = f"{o.base_url}/{'chat/completions' if o.endpoint == 'chat' else 'completions'}"
        last = ""
        for attempt in range(o.max_retries + 1):
            try:
                async with sem:
                    r = await asyncio.wait_for(self._attempt(client, url, body), o.timeout_s)
            except _Fatal as e:
                return f"fatal: {e}"
            except (_Retryable, TimeoutError, OSError) as e:
                if isinstance(e, _Retryable):
                    last, retry_after = str(e), e.retry_after
                else:  # asyncio's TimeoutError is an OSError: the whole-request limit
                    last, retry_after = (f"timed out (timeout_s={o.timeout_s:g}s)" if isinstance(e, TimeoutError)
                                         else f"connection failed: {e}"), None
                if attempt < o.max_retries:
                    await asyncio.sleep(_backoff(attempt, o.backoff_s, o.max_backoff_s, retry_after))
                continue
            r.extra["attempts"] = attempt + 1
            self._count_tokens(r, req)
            unsent = _params_not_sent(params, o.extra_body)
            if unsent:
                r.extra["params_not_sent"] = unsent
            return r
        return f"{last} (after {o.max_retries + 1} attempts, {url})"

    async def _attempt(self, client: Any, url: str, body: dict[str, Any]) -> _Result:
        import httpx

        res = _Result(start=time.perf_counter())
        try:
            async with client.stream("POST", url, json=body) as resp:
                if resp.status_code != 200:
                    _raise_for_status(resp.status_code, (await resp.aread())[:300], resp.headers)
                if "text/event-stream" in resp.headers.get("content-type", ""):
                    await self._read_stream(resp, res)
                else:  # the server ignored stream=true (or stream is off): one JSON body
                    _take_chunk(_parse_json(await resp.aread()), res, self.opts.endpoint, stream=False)
        except httpx.TimeoutException:
            raise _Retryable(f"timed out (timeout_s={self.opts.timeout_s:g}s)") from None
        except httpx.TransportError as e:  # refused, reset, a stream cut short by a dying server
            raise _Retryable(f"connection failed: {e or type(e).__name__}") from None
        res.end = time.perf_counter()
        return res

    async def _read_stream(self, resp: Any, res: _Result) -> None:
        data: list[str] = []
        events = 0
        done = False

        def dispatch() -> bool:
            nonlocal events
            payload = "\n".join(data)
            data.clear()
            if payload.strip() == "[DONE]":
                return True
            if payload:
                events += 1
                _take_chunk(_parse_json(payload), res, self.opts.endpoint, stream=True)
            return False

        async for line in resp.aiter_lines():  # SSE: "data: ..." lines; a blank line ends an event
            if not line:
                if done := dispatch():
                    break
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                if name == "data":
                    data.append(value[1:] if value.startswith(" ") else value)
        else:
            done = dispatch()
        if not events:
            raise _Fatal("the server ended the stream without sending any data")
        if not done and res.finish_reason is None:  # cut off: a half story must not pass as whole
            raise _Retryable("the stream ended before the server finished (no finish_reason, no [DONE])")

    # -- helpers ----------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.opts.api_key_env) if self.opts and self.opts.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _body(self, req: Request, params: GenerationParams) -> dict[str, Any]:
        o = self.opts
        body: dict[str, Any] = {"model": self._model_name}
        if o.endpoint == "chat":
            msgs = [{"role": "system", "content": req.system}] if req.system else []
            body["messages"] = msgs + [{"role": "user", "content": req.user}]
        else:
            body["prompt"] = req.plain_prompt
        body.update(max_tokens=params.max_new_tokens,
                    temperature=params.temperature if params.do_sample else 0.0,
                    top_p=params.top_p, seed=params.seed, stream=o.stream)
        if o.stream:
            body["stream_options"] = {"include_usage": True}
        body.update(o.extra_body)
        return {k: v for k, v in body.items() if v is not None}

    def _count_tokens(self, r: _Result, req: Request) -> None:
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


# ---------------------------------------------------------------------------------------- pure parts

def _raise_for_status(status: int, body: bytes, headers: Any) -> None:
    text = body.decode("utf-8", errors="replace").strip().replace("\n", " ")
    try:  # OpenAI-style {"error": {"message": ...}} or {"detail": ...}
        obj = json.loads(text)
        err = obj.get("error", obj.get("detail", text)) if isinstance(obj, dict) else text
        text = str(err.get("message", err) if isinstance(err, dict) else err)
    except ValueError:
        pass
    msg = f"HTTP {status}: {text[:200]}" if text else f"HTTP {status}"
    if status in (408, 429) or status >= 500:
        retry_after = None
        try:
            retry_after = float(headers.get("retry-after", ""))
        except ValueError:
            pass
        raise _Retryable(msg, retry_after)
    if status == 404:
        msg += " (check base_url, usually ending in /v1, the endpoint and the model name)"
    raise _Fatal(msg)


def _parse_json(raw: bytes | str) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except ValueError as e:
        shown = raw[:80].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:80]
        raise _Fatal(f"the server sent invalid JSON ({e}) starting {shown!r}: is base_url an "
                     "OpenAI-compatible API?") from None
    if not isinstance(obj, dict):
        raise _Fatal(f"the server sent JSON that is not an object: {str(obj)[:80]!r}")
    return obj


def _take_chunk(obj: dict[str, Any], res: _Result, endpoint: str, stream: bool) -> None:
    """Fold one streamed chunk (or a whole non-streamed response) into ``res``."""
    if "error" in obj:
        err = obj["error"]
        raise _Fatal(f"the server reported an error: {str(err.get('message', err) if isinstance(err, dict) else err)[:200]}")
    choices = obj.get("choices")
    if not isinstance(choices, list):
        raise _Fatal(f"the server sent JSON without a 'choices' list: {json.dumps(obj)[:120]}")
    for c in choices[:1]:
        if not isinstance(c, dict):
            raise _Fatal("the server sent a malformed choice")
        if endpoint == "chat":
            part = (c.get("delta") if stream else c.get("message")) or {}
            piece = part.get("content") if isinstance(part, dict) else None
        else:
            piece = c.get("text")
        if piece:
            if res.ttft_s is None and stream:
                res.ttft_s = time.perf_counter() - res.start
            res.text += str(piece)
            res.chunks += stream  # a whole (non-streamed) answer is no token count
        if c.get("finish_reason"):
            res.finish_reason = str(c["finish_reason"])
    usage = obj.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        res.completion_tokens = usage["completion_tokens"]
        if isinstance(usage.get("prompt_tokens"), int):
            res.prompt_tokens = usage["prompt_tokens"]


def _backoff(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """Exponential backoff with up to 25% jitter (so a 429 storm does not retry in lockstep);
    a server's Retry-After wins when longer, both capped at ``cap``."""
    delay = base * (2 ** attempt) * (1 + 0.25 * random.random())
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return min(delay, cap)


def _params_not_sent(params: GenerationParams, extra_body: dict[str, Any]) -> list[str]:
    out = []
    if params.top_k and "top_k" not in extra_body:
        out.append("top_k")
    if params.repetition_penalty != 1.0 and not {"repetition_penalty", "repeat_penalty",
                                                  "frequency_penalty"} & set(extra_body):
        out.append("repetition_penalty")
    return out


def _wall_shares(spans: list[tuple[float, float] | None]) -> list[float | None]:
    """Each request's share of the wall time: over its span, 1/(requests in flight) per second.

    The shares add up to the busy wall time, so seconds-per-story stays comparable with a backend
    that shares one batch's time among its stories. A sweep over the span edges: O(n log n)."""
    import bisect

    points = sorted({t for s in spans if s for t in s})
    delta = [0] * (len(points) + 1)
    for s in spans:
        if s:
            delta[bisect.bisect_left(points, s[0])] += 1
            delta[bisect.bisect_left(points, s[1])] -= 1
    cum = [0.0]  # cum[i]: shared seconds from points[0] to points[i]
    inflight = 0
    for i in range(len(points) - 1):
        inflight += delta[i]
        cum.append(cum[-1] + ((points[i + 1] - points[i]) / inflight if inflight else 0.0))
    return [cum[bisect.bisect_left(points, s[1])] - cum[bisect.bisect_left(points, s[0])] if s else None
            for s in spans]


def _raise_if_all_fatal(label: str, results: list[_Result | str]) -> None:
    """Every story failing the same non-transient way is a setup problem: one clear line."""
    errors = {r for r in results if isinstance(r, str)}
    if len(errors) == 1 and all(isinstance(r, str) for r in results):
        (msg,) = errors
        if msg.startswith("fatal: "):
            raise EvalkitError(f"{label}: every story failed: {msg.removeprefix('fatal: ')}")


def _run(coro: Any) -> Any:
    """asyncio.run, also from a thread that already runs an event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:  # re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
