"""The OpenAI wire format: the request body, and reading answers (SSE chunks or one JSON body, error
bodies) into a Result. Pure: no network, no clock other than the time to first token."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from evalkit.models.base import Request
from evalkit.models.openai.options import OpenAIOptions
from evalkit.records import GenerationParams


class Retryable(Exception):
    """A failure that the same request may not hit again (429, 408, 5xx, timeouts, dropped connections)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Fatal(Exception):
    """A failure that retrying the same request will not fix (4xx, bad JSON, an error in the stream)."""


@dataclass
class Result:
    """One story's answer as it arrives."""

    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    chunks: int = 0
    finish_reason: str | None = None
    ttft_s: float | None = None
    start: float = 0.0
    end: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # asked for with logprobs (a judge reading its answer's probabilities): per answer token, the
    # token and its top alternatives as [{"token", "logprob"}]; None when the server sent none
    tokens: list[str] | None = None
    top_logprobs: list[list[dict[str, Any]]] | None = None


def endpoint_path(opts: OpenAIOptions) -> str:
    return "chat/completions" if opts.endpoint == "chat" else "completions"


def request_body(opts: OpenAIOptions, model_name: str | None, req: Request, params: GenerationParams,
                 logprobs: int | None = None) -> dict[str, Any]:
    """The request for one story; ``logprobs``: also ask for that many top alternatives per answer token
    (one JSON answer, not streamed: every server that gives logprobs gives them there)."""
    body: dict[str, Any] = {"model": model_name}
    if opts.endpoint == "chat":
        msgs = [{"role": "system", "content": req.system}] if req.system else []
        body["messages"] = msgs + [{"role": "user", "content": req.user}]
    else:
        body["prompt"] = req.plain_prompt
    body.update(max_tokens=params.max_new_tokens,
                temperature=params.temperature if params.do_sample else 0.0,
                top_p=params.top_p, seed=params.seed, stream=opts.stream and logprobs is None)
    if body["stream"]:
        body["stream_options"] = {"include_usage": True}
    if logprobs is not None:
        body.update({"logprobs": True, "top_logprobs": logprobs} if opts.endpoint == "chat" else {"logprobs": logprobs})
    body.update(opts.extra_body)
    return {k: v for k, v in body.items() if v is not None}


def params_not_sent(params: GenerationParams, extra_body: dict[str, Any]) -> list[str]:
    out = []
    if params.top_k and "top_k" not in extra_body:
        out.append("top_k")
    if params.repetition_penalty != 1.0 and not {"repetition_penalty", "repeat_penalty",
                                                  "frequency_penalty"} & set(extra_body):
        out.append("repetition_penalty")
    return out


def raise_for_status(status: int, body: bytes, headers: Any) -> None:
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
        raise Retryable(msg, retry_after)
    if status == 404:
        msg += " (check base_url, usually ending in /v1, the endpoint and the model name)"
    raise Fatal(msg)


def parse_json(raw: bytes | str) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except ValueError as e:
        shown = raw[:80].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:80]
        raise Fatal(f"the server sent invalid JSON ({e}) starting {shown!r}: is base_url an "
                    "OpenAI-compatible API?") from None
    if not isinstance(obj, dict):
        raise Fatal(f"the server sent JSON that is not an object: {str(obj)[:80]!r}")
    return obj


def take_chunk(obj: dict[str, Any], res: Result, endpoint: str, stream: bool) -> None:
    """Fold one streamed chunk (or a whole non-streamed response) into ``res``."""
    if "error" in obj:
        err = obj["error"]
        raise Fatal(f"the server reported an error: {str(err.get('message', err) if isinstance(err, dict) else err)[:200]}")
    choices = obj.get("choices")
    if not isinstance(choices, list):
        raise Fatal(f"the server sent JSON without a 'choices' list: {json.dumps(obj)[:120]}")
    for c in choices[:1]:
        if not isinstance(c, dict):
            raise Fatal("the server sent a malformed choice")
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
        take_logprobs(c.get("logprobs"), res, endpoint)
    usage = obj.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        res.completion_tokens = usage["completion_tokens"]
        if isinstance(usage.get("prompt_tokens"), int):
            res.prompt_tokens = usage["prompt_tokens"]


def take_logprobs(lp: Any, res: Result, endpoint: str) -> None:
    """Append a choice's logprobs: chat ``{"content": [{"token", "top_logprobs": [...]}]}``, completions
    ``{"tokens": [...], "top_logprobs": [{token: logprob}]}``. Anything else is no logprobs."""
    if not isinstance(lp, dict):
        return
    if endpoint == "chat":
        content = lp.get("content")
        if isinstance(content, list) and content and all(isinstance(t, dict) for t in content):
            res.tokens = (res.tokens or []) + [str(t.get("token", "")) for t in content]
            res.top_logprobs = (res.top_logprobs or []) + [list(t.get("top_logprobs") or []) for t in content]
        return
    tops = lp.get("top_logprobs")
    if isinstance(tops, list) and tops:
        res.tokens = (res.tokens or []) + [str(t) for t in (lp.get("tokens") or [])]
        res.top_logprobs = (res.top_logprobs or []) + [
            [{"token": k, "logprob": v} for k, v in d.items()] if isinstance(d, dict) else [] for d in tops]


def read_response(obj: Any, endpoint: str) -> Result | str:
    """A whole (non-streamed) answer as a Result, or the line saying why it cannot be read."""
    res = Result()
    try:
        if not isinstance(obj, dict):
            raise Fatal(f"the answer is not a JSON object: {str(obj)[:80]!r}")
        take_chunk(obj, res, endpoint, stream=False)
    except Fatal as e:
        return str(e)
    return res


async def read_sse(resp: Any, res: Result, endpoint: str) -> None:
    """Read a text/event-stream answer: "data: ..." lines; a blank line ends an event; [DONE] ends the stream."""
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
            take_chunk(parse_json(payload), res, endpoint, stream=True)
        return False

    async for line in resp.aiter_lines():
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
        raise Fatal("the server ended the stream without sending any data")
    if not done and res.finish_reason is None:  # cut off: a half story must not pass as whole
        raise Retryable("the stream ended before the server finished (no finish_reason, no [DONE])")
