"""HTTP transport for the openai backend: concurrent requests, retries with backoff, the whole-request
time limit, and each request's share of the wall time."""

from __future__ import annotations

import asyncio
import bisect
import random
import threading
import time
from typing import Any

from evalkit.models.openai.options import OpenAIOptions
from evalkit.models.openai.wire import Fatal, Result, Retryable, raise_for_status, read_sse, take_chunk, parse_json


async def send_all(opts: OpenAIOptions, headers: dict[str, str], url: str,
                   bodies: list[dict[str, Any]]) -> list[Result | str]:
    """POST every body (at most ``concurrency`` in flight): a Result each, or its error line
    ("fatal: ..." when retrying would not help)."""
    import httpx

    sem = asyncio.Semaphore(opts.concurrency)
    timeout = httpx.Timeout(opts.timeout_s, connect=opts.connect_timeout_s)
    limits = httpx.Limits(max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=headers) as client:
        return list(await asyncio.gather(*(send_with_retries(client, sem, opts, url, b) for b in bodies)))


async def send_with_retries(client: Any, sem: asyncio.Semaphore, opts: OpenAIOptions, url: str,
                            body: dict[str, Any]) -> Result | str:
    last = ""
    for attempt in range(opts.max_retries + 1):
        try:
            async with sem:
                r = await asyncio.wait_for(send_once(client, opts, url, body), opts.timeout_s)
        except Fatal as e:
            return f"fatal: {e}"
        except (Retryable, TimeoutError, OSError) as e:
            if isinstance(e, Retryable):
                last, retry_after = str(e), e.retry_after
            else:  # asyncio's TimeoutError is an OSError: the whole-request limit
                last, retry_after = (f"timed out (timeout_s={opts.timeout_s:g}s)" if isinstance(e, TimeoutError)
                                     else f"connection failed: {e}"), None
            if attempt < opts.max_retries:
                await asyncio.sleep(backoff(attempt, opts.backoff_s, opts.max_backoff_s, retry_after))
            continue
        r.extra["attempts"] = attempt + 1
        return r
    return f"{last} (after {opts.max_retries + 1} attempts, {url})"


async def send_once(client: Any, opts: OpenAIOptions, url: str, body: dict[str, Any]) -> Result:
    import httpx

    res = Result(start=time.perf_counter())
    try:
        async with client.stream("POST", url, json=body) as resp:
            if resp.status_code != 200:
                raise_for_status(resp.status_code, (await resp.aread())[:300], resp.headers)
            if "text/event-stream" in resp.headers.get("content-type", ""):
                await read_sse(resp, res, opts.endpoint)
            else:  # the server ignored stream=true (or stream is off): one JSON body
                take_chunk(parse_json(await resp.aread()), res, opts.endpoint, stream=False)
    except httpx.TimeoutException:
        raise Retryable(f"timed out (timeout_s={opts.timeout_s:g}s)") from None
    except httpx.TransportError as e:  # refused, reset, a stream cut short by a dying server
        raise Retryable(f"connection failed: {e or type(e).__name__}") from None
    res.end = time.perf_counter()
    return res


def backoff(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """Exponential backoff with up to 25% jitter (so a 429 storm does not retry in lockstep);
    a server's Retry-After wins when longer, both capped at ``cap``."""
    delay = base * (2 ** attempt) * (1 + 0.25 * random.random())
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return min(delay, cap)


def wall_shares(spans: list[tuple[float, float] | None]) -> list[float | None]:
    """Each request's share of the wall time: over its span, 1/(requests in flight) per second.

    The shares add up to the busy wall time, so seconds-per-story stays comparable with a backend
    that shares one batch's time among its stories. A sweep over the span edges: O(n log n)."""
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


def run_sync(coro: Any) -> Any:
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
