"""A tiny third-party backend: registered through the `evalkit.models` entry point like `hf` is.

It writes a story from the request itself, optionally sleeping ``delay_s`` per story, so tests can
interrupt a run while it is generating."""

from __future__ import annotations

import time

from evalkit import Generation, Model, ModelInfo


class EchoModel(Model):
    def generate(self, requests, params):
        out = []
        for r in requests:
            t0 = time.perf_counter()
            time.sleep(float(self.spec.options.get("delay_s", 0)))
            names = " and ".join(c.name for c in r.characters)
            text = f"{names} had a {r.genre.lower()} day. {r.prompt} In the end, {names} went home happy."
            out.append(Generation(text=text, prompt_tokens=len(r.user.split()), completion_tokens=len(text.split()),
                                  latency_s=time.perf_counter() - t0, ttft_s=0.0, extra={"batch_n": 1}))
        return out

    def describe(self):
        return ModelInfo(name=self.spec.label, backend="echo", source=str(self.spec.options.get("source", "")))
