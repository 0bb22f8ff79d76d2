"""A small async client for one thing the openai backend does not ask for: the answer's logprobs.

It sends non-streamed requests with ``logprobs``/``top_logprobs`` (chat) or ``logprobs: N``
(completions) and returns what came back, concurrently up to the backend's ``concurrency``.
(Temporary: once the openai backend's transport is split out, this folds into it.)
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from evalkit.judge.prompts import JudgePrompt

TOP_LOGPROBS = 20  # the most OpenAI's API accepts; vLLM and llama.cpp's server accept it too
RETRYABLE = {408, 429, 500, 502, 503, 504}


@dataclass
class Answer:
    """What the server said: the text, the top logprobs at each answer token (None when it sent none)."""

    text: str = ""
    top_logprobs: list[list[dict[str, Any]]] | None = None
    tokens: list[str] | None = None
    error: str | None = None


@dataclass(frozen=True)
class ServerTarget:
    base_url: str
    model: str | None
    endpoint: str = "chat"
    api_key_env: str | None = None
    timeout_s: float = 120.0
    connect_timeout_s: float = 10.0
    concurrency: int = 4
    max_retries: int = 2

    @classmethod
    def from_options(cls, options: dict[str, Any], model_name: str | None) -> ServerTarget:
        return cls(base_url=str(options["base_url"]).rstrip("/"), model=model_name or options.get("model"),
                   endpoint=options.get("endpoint", "chat"), api_key_env=options.get("api_key_env"),
                   timeout_s=float(options.get("timeout_s", 120.0)),
                   connect_timeout_s=float(options.get("connect_timeout_s", 10.0)),
                   concurrency=int(options.get("concurrency", 4)),
                   max_retries=min(2, int(options.get("max_retries", 2))))

    def headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}


def body(target: ServerTarget, prompt: JudgePrompt, max_tokens: int) -> dict[str, Any]:
    out: dict[str, Any] = {"model": target.model, "max_tokens": max_tokens, "temperature": 0.0, "stream": False}
    if target.endpoint == "chat":
        out["messages"] = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
        out.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
    else:
        out.update(prompt=prompt.plain, logprobs=TOP_LOGPROBS)
    return {k: v for k, v in out.items() if v is not None}


def read_answer(obj: Any, endpoint: str) -> Answer:
    """Pull the text and per-token top logprobs out of a chat or completions response."""
    if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list) or not obj["choices"]:
        return Answer(error=f"the server sent no choices: {str(obj)[:120]}")
    c = obj["choices"][0] if isinstance(obj["choices"][0], dict) else {}
    lp = c.get("logprobs")
    if endpoint == "chat":
        msg = c.get("message") or {}
        text = str(msg.get("content") or "")
        content = lp.get("content") if isinstance(lp, dict) else None
        if isinstance(content, list) and content and all(isinstance(t, dict) for t in content):
            return Answer(text, [list(t.get("top_logprobs") or []) for t in content],
                          [str(t.get("token", "")) for t in content])
        return Answer(text)
    text = str(c.get("text") or "")
    tops = lp.get("top_logprobs") if isinstance(lp, dict) else None
    if isinstance(tops, list) and tops:
        as_lists = [[{"token": k, "logprob": v} for k, v in d.items()] if isinstance(d, dict) else [] for d in tops]
        return Answer(text, as_lists, [str(t) for t in (lp.get("tokens") or [])])
    return Answer(text)


async def _one(client: Any, sem: asyncio.Semaphore, target: ServerTarget, prompt: JudgePrompt,
               max_tokens: int) -> Answer:
    import httpx

    url = f"{target.base_url}/{'chat/completions' if target.endpoint == 'chat' else 'completions'}"
    last = ""
    for attempt in range(target.max_retries + 1):
        try:
            async with sem:
                r = await client.post(url, json=body(target, prompt, max_tokens))
        except httpx.HTTPError as e:
            last = f"cannot reach {url}: {type(e).__name__} {e}".strip()
        else:
            if r.status_code == 200:
                try:
                    return read_answer(r.json(), target.endpoint)
                except ValueError:
                    return Answer(error=f"the server sent invalid JSON: {r.text[:80]!r}")
            last = f"HTTP {r.status_code} from {url}: {r.text[:120]}"
            if r.status_code not in RETRYABLE:
                return Answer(error=last)
        if attempt < target.max_retries:
            await asyncio.sleep(0.5 * 2 ** attempt)
    return Answer(error=last)


async def _all(target: ServerTarget, prompts: list[JudgePrompt], max_tokens: int) -> list[Answer]:
    import httpx

    sem = asyncio.Semaphore(target.concurrency)
    timeout = httpx.Timeout(target.timeout_s, connect=target.connect_timeout_s)
    async with httpx.AsyncClient(timeout=timeout, headers=target.headers()) as client:
        return list(await asyncio.gather(*(_one(client, sem, target, p, max_tokens) for p in prompts)))


def ask_with_logprobs(target: ServerTarget, prompts: list[JudgePrompt], max_tokens: int = 4) -> list[Answer]:
    coro = _all(target, prompts, max_tokens)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # inside a running loop (a notebook): run ours in a worker thread
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
