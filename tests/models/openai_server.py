"""A real OpenAI-compatible HTTP server (uvicorn + starlette) that misbehaves on request.

Run as a script: ``python openai_server.py --port N [--config JSON]``. It streams a fixed story
word by word over SSE like vLLM does, and can be told (at start, or later by POST /_control) to
answer the first N requests with an HTTP status (429 storm, 503), invalid JSON, an HTML page or an
error that echoes the request's headers (API key included), to
be slow, to trickle, to leave out usage, to require an API key, or to die mid-stream after K
requests (``os._exit``, as a crash or a kill would). GET /_log returns every request it received.
Used by tests/models/test_openai.py for the failure cases a well-behaved server cannot produce.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

STORY = ("Once upon a time a brave fox named Pip found an old map under a mossy stone and "
         "followed it across the hills to a hidden lake where friendly otters sang").split()

DEFAULTS: dict[str, Any] = {
    "model": "test-model",
    "words": 12,  # words in each story, one per chunk
    "delay": 0.0,  # seconds before the response starts
    "chunk_delay": 0.0,  # seconds between chunks
    "usage": True,  # send a usage chunk at the end
    "fail_first": 0,  # the first N completion requests fail as `fail_kind` says
    "fail_kind": "status",  # status | badjson | html | echo (the status, its body echoing the request headers)
    "fail_status": 429,
    "retry_after": None,  # Retry-After header of those failures
    "die_after": None,  # after K completed requests, the next one dies mid-stream
    "require_key": None,  # expect "Authorization: Bearer KEY"
}
STATE: dict[str, Any] = {"config": dict(DEFAULTS), "posts": 0, "log": []}


def _sse(obj: Any) -> str:
    return f"data: {json.dumps(obj)}\n\n"


def _authorized(request: Request) -> bool:
    key = STATE["config"]["require_key"]
    return key is None or request.headers.get("authorization") == f"Bearer {key}"


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def control(request: Request) -> Response:
    STATE["config"] = {**DEFAULTS, **(await request.json())}
    STATE["posts"], STATE["log"] = 0, []
    return JSONResponse(STATE["config"])


async def log(request: Request) -> Response:
    return JSONResponse(STATE["log"])


async def models(request: Request) -> Response:
    if not _authorized(request):
        return JSONResponse({"error": {"message": "invalid api key"}}, status_code=401)
    return JSONResponse({"object": "list", "data": [{"id": STATE["config"]["model"], "object": "model"}]})


async def completions(request: Request) -> Response:
    cfg = STATE["config"]
    chat = request.url.path.endswith("/chat/completions")
    body = json.loads(await request.body())
    STATE["posts"] += 1
    n = STATE["posts"]
    STATE["log"].append({"path": request.url.path, "auth": request.headers.get("authorization"),
                         "body": body, "t": time.time(), "n": n})
    if not _authorized(request):
        return JSONResponse({"error": {"message": "invalid api key"}}, status_code=401)
    if n <= cfg["fail_first"]:
        kind = cfg["fail_kind"]
        if kind == "badjson":
            return StreamingResponse(iter(["data: {\"choices\": [ this is not json\n\n"]),
                                     media_type="text/event-stream")
        if kind == "html":
            return Response("<html><body>Please log in</body></html>", media_type="text/html")
        if kind == "echo":  # a debugging proxy that puts the whole request, key included, in its error
            return JSONResponse({"error": {"message": f"bad request with {request.headers.get('authorization')}; headers were {dict(request.headers)}"}},
                                status_code=cfg["fail_status"])
        headers = {"retry-after": str(cfg["retry_after"])} if cfg["retry_after"] is not None else {}
        return JSONResponse({"error": {"message": f"simulated {cfg['fail_status']}", "type": "server"}},
                            status_code=cfg["fail_status"], headers=headers)
    if cfg["delay"]:
        await asyncio.sleep(cfg["delay"])
    dies = cfg["die_after"] is not None and n > cfg["die_after"]
    words = [STORY[i % len(STORY)] for i in range(cfg["words"])]
    prompt = " ".join(m["content"] for m in body["messages"]) if chat else body["prompt"]
    usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(words),
             "total_tokens": len(prompt.split()) + len(words)}
    base = {"id": f"cmpl-{n}", "created": int(time.time()), "model": cfg["model"],
            "object": "chat.completion.chunk" if chat else "text_completion"}

    def choice(piece: str | None, finish: str | None = None) -> dict[str, Any]:
        if chat:
            return {"index": 0, "delta": {} if piece is None else {"content": piece}, "finish_reason": finish}
        return {"index": 0, "text": piece or "", "finish_reason": finish}

    if not body.get("stream"):
        text = " ".join(words)
        c = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
             if chat else {"index": 0, "text": text, "finish_reason": "length"})
        return JSONResponse({**base, "choices": [c], **({"usage": usage} if cfg["usage"] else {})})

    async def stream():
        for i, w in enumerate(words):
            if cfg["chunk_delay"]:
                await asyncio.sleep(cfg["chunk_delay"])
            yield _sse({**base, "choices": [choice(w if i == 0 else " " + w)]})
            if dies:
                await asyncio.sleep(0.05)  # let the first chunk reach the client, then crash
                os._exit(1)
        last = {**base, "choices": [choice(None, "length")]}
        if cfg["usage"]:
            last["usage"] = usage
        yield _sse(last)
        yield "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


app = Starlette(routes=[
    Route("/health", health), Route("/_control", control, methods=["POST"]), Route("/_log", log),
    Route("/v1/models", models), Route("/v1/chat/completions", completions, methods=["POST"]),
    Route("/v1/completions", completions, methods=["POST"]),
])

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--config", default="{}")
    args = ap.parse_args()
    STATE["config"] = {**DEFAULTS, **json.loads(args.config)}
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
