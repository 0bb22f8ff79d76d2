"""In-process llama.cpp backend (``pip install 'evalkit[llamacpp]'``): a GGUF file decoded by llama.cpp.

GGUF is what people run on laptops, and llama.cpp decodes it several times faster than
transformers on a CPU. Stories are written one at a time (llama-cpp-python's high-level API has one
sequence per context), each streamed to measure time to first token.

Sampling: max_new_tokens -> max_tokens, temperature (0, i.e. greedy, when do_sample is false),
top_p, top_k (0 is off, as in transformers), repetition_penalty -> repeat_penalty (the same
multiplicative penalty, over llama.cpp's last 64 tokens), seed per story; min_p is set to 0 so
llama.cpp's default min_p=0.05 does not change the distribution. Completion tokens are counted by
re-tokenizing the story (llama-cpp-python streams no usage); prompt tokens are counted for the
plain prompt and left empty for chat prompts (the template is applied inside llama-cpp-python).
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import EvalkitError
from evalkit.models.base import Model, ModelSpec, Request, files_fingerprint
from evalkit.records import Generation, GenerationParams, ModelInfo, stable_hash

INSTALL_HINT = ("llama-cpp-python is not installed: pip install 'evalkit[llamacpp]' "
                "(it compiles llama.cpp from source, several minutes)")


class LlamaCppOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = None  # a .gguf file
    gguf_package: str | None = None  # or a GGUF shipped inside a PyPI package (as the hf presets)
    gguf_file: str | None = None
    gguf_assemble: bool = False
    chat: bool = True  # use the GGUF's chat template when it has one
    chat_format: str | None = None  # force a llama-cpp-python chat format (e.g. "chatml")
    n_ctx: int = Field(2048, ge=64)
    n_threads: int | None = Field(None, ge=1)
    n_gpu_layers: int = 0  # -1: all
    dtype: str | None = None  # accepted so an hf preset can switch backend; a GGUF keeps its own


class LlamaCppModel(Model):
    options_model: ClassVar[type[LlamaCppOptions]] = LlamaCppOptions

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self._problem: str | None = None
        try:
            self.opts = LlamaCppOptions.model_validate(spec.options)
            if not self.opts.source and not self.opts.gguf_package:
                self._problem = f"model {spec.label!r} (backend llamacpp): set source = \"file.gguf\" or gguf_package"
        except ValidationError as e:
            err = e.errors()[0]
            self._problem = (f"model {spec.label!r} (backend llamacpp): option "
                             f"{'.'.join(map(str, err['loc']))}: {err['msg']}")
            self.opts = None  # type: ignore[assignment]
        self._llm: Any = None
        self._path: Path | None = None
        self._chat = False

    def fingerprint(self) -> str:
        opts = {k: v for k, v in self.spec.options.items() if k not in ("n_threads", "n_gpu_layers", "dtype")}
        path = self._gguf_path(assemble=False)
        files = files_fingerprint({"gguf": str(path)}) if path else files_fingerprint(opts)
        return stable_hash({"backend": "llamacpp", "options": opts, "files": files})

    def availability(self) -> str | None:
        if self._problem:
            return self._problem
        if importlib.util.find_spec("llama_cpp") is None:
            return INSTALL_HINT
        if self.opts.gguf_package and importlib.util.find_spec(self.opts.gguf_package) is None:
            return f"the GGUF package {self.opts.gguf_package!r} is not installed"
        if self.opts.source and not Path(os.path.expanduser(self.opts.source)).is_file():
            return f"GGUF file {self.opts.source} does not exist"
        return None

    def _gguf_path(self, assemble: bool) -> Path | None:
        o = self.opts
        if o is None:
            return None
        if o.source:
            return Path(os.path.expanduser(o.source))
        if o.gguf_assemble and not assemble:
            return None  # assembling writes a file: only on load
        from evalkit.errors import WeightsMissing
        from evalkit.models.gguf import package_gguf

        try:
            return package_gguf(o.gguf_package, o.gguf_file, assemble=o.gguf_assemble)
        except WeightsMissing:
            return None

    def load(self) -> None:
        problem = self.availability()
        if problem:
            raise EvalkitError(problem)
        from llama_cpp import Llama

        self._path = self._gguf_path(assemble=True)
        if self._path is None or not self._path.is_file():
            raise EvalkitError(f"{self.spec.label}: GGUF file not found ({self.opts.gguf_package} {self.opts.gguf_file})")
        o = self.opts
        try:
            self._llm = Llama(model_path=str(self._path), n_ctx=o.n_ctx, n_threads=o.n_threads or os.cpu_count(),
                              n_gpu_layers=o.n_gpu_layers, chat_format=o.chat_format, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise EvalkitError(f"{self.spec.label}: llama.cpp cannot load {self._path}: {e}") from None
        meta = getattr(self._llm, "metadata", {}) or {}
        self._chat = o.chat and bool(o.chat_format or "tokenizer.chat_template" in meta)

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Generation]:
        if self._llm is None:
            self.load()
        return [self._one(r, params) for r in requests]

    def _one(self, req: Request, p: GenerationParams) -> Generation:
        llm = self._llm
        kw = dict(max_tokens=p.max_new_tokens, temperature=p.temperature if p.do_sample else 0.0,
                  top_p=p.top_p, top_k=p.top_k, min_p=0.0, typical_p=1.0,
                  repeat_penalty=p.repetition_penalty, seed=p.seed, stream=True)
        t0 = time.perf_counter()
        ttft = None
        parts: list[str] = []
        finish = None
        if self._chat:
            msgs = ([{"role": "system", "content": req.system}] if req.system else []) + \
                   [{"role": "user", "content": req.user}]
            stream = llm.create_chat_completion(messages=msgs, **kw)
        else:
            stream = llm.create_completion(prompt=req.plain_prompt, **kw)
        for chunk in stream:
            c = chunk["choices"][0]
            piece = (c.get("delta") or {}).get("content") if self._chat else c.get("text")
            if piece:
                ttft = ttft if ttft is not None else time.perf_counter() - t0
                parts.append(piece)
            finish = c.get("finish_reason") or finish
        latency = time.perf_counter() - t0
        text = "".join(parts)
        n_out = len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0
        n_in = None if self._chat else len(llm.tokenize(req.plain_prompt.encode("utf-8"), add_bos=True, special=True))
        return Generation(text=text, prompt_tokens=n_in, completion_tokens=n_out, latency_s=latency, ttft_s=ttft,
                          extra={"batch_n": 1, "finish_reason": finish, "token_count": "retokenized"})

    def describe(self) -> ModelInfo:
        llm, path = self._llm, self._path
        meta = (getattr(llm, "metadata", {}) or {}) if llm else {}
        quant = None
        if "general.file_type" in meta:
            try:
                import gguf

                quant = gguf.LlamaFileType(int(meta["general.file_type"])).name.removeprefix("MOSTLY_")
            except (ImportError, ValueError):
                quant = str(meta["general.file_type"])
        n_params = getattr(getattr(llm, "_model", None), "n_params", None)
        try:
            import llama_cpp

            version = getattr(llama_cpp, "__version__", None)
        except ImportError:
            version = None
        return ModelInfo(
            name=meta.get("general.name") or self.spec.label, backend="llamacpp", source=str(path or ""),
            parameters=int(n_params()) if callable(n_params) else None, quantization=quant,
            device="cpu" if not self.opts or self.opts.n_gpu_layers == 0 else f"gpu ({self.opts.n_gpu_layers} layers)",
            disk_bytes=path.stat().st_size if path and path.is_file() else None, chat_template=self._chat,
            extra={"n_ctx": self.opts.n_ctx if self.opts else None, "llama_cpp_python": version},
        )

    def close(self) -> None:
        if self._llm is not None:
            close = getattr(self._llm, "close", None)
            if callable(close):
                close()
            self._llm = None
