"""A tiny third-party backend: registered through the `evalkit.models` entry point like `hf` is.

It writes a story from the request itself, optionally sleeping ``delay_s`` per story, so tests can
interrupt a run while it is generating. With ECHO_HOLD_AFTER=N and ECHO_RELEASE_FILE=PATH in the
environment (not model options: they would change the model's fingerprint) it writes N stories, then
waits until PATH exists before the next one: a test can signal the run while it is certainly mid-run,
however loaded the machine is."""

from __future__ import annotations

import os
import time

from evalkit import Generation, Model, ModelInfo


class EchoModel(Model):
    def generate(self, requests, params):
        out = []
        for r in requests:
            self._hold()
            t0 = time.perf_counter()
            time.sleep(float(self.spec.options.get("delay_s", 0)))
            names = " and ".join(c.name for c in r.characters)
            text = f"{names} had a {r.genre.lower()} day. {r.prompt} In the end, {names} went home happy."
            out.append(Generation(text=text, prompt_tokens=len(r.user.split()), completion_tokens=len(text.split()),
                                  latency_s=time.perf_counter() - t0, ttft_s=0.0, extra={"batch_n": 1}))
        return out

    def _hold(self) -> None:
        self.written = getattr(self, "written", 0) + 1
        hold_after, release = os.environ.get("ECHO_HOLD_AFTER"), os.environ.get("ECHO_RELEASE_FILE")
        if hold_after and release and self.written > int(hold_after):
            while not os.path.exists(release):
                time.sleep(0.05)

    def describe(self):
        return ModelInfo(name=self.spec.label, backend="echo", source=str(self.spec.options.get("source", "")))
