"""The transformers backend: a hub id, a local folder or a GGUF file; a PEFT adapter kept as an
adapter; optional 4-bit nf4 / 8-bit (bitsandbytes, bf16 compute); chat template for instruct models,
else the suite's plain template; batched, left-padded, length-sorted, seeded generation.

Context: a story is capped so prompt + story fit the model's position limit (``max_new_tokens_capped``
in the story's extra, and one note on stderr); a prompt that alone fills the context is refused for
that story (its error says so, the rest of the batch is kept), never truncated, because a prompt cut
from the left loses its instructions and would be scored as a story for a prompt it never saw."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalkit.errors import EvalkitError, ModelNotFound, WeightsMissing
from evalkit.models.base import Model, ModelSpec, Request, files_fingerprint, options_problem
from evalkit.models.bnb import import_bitsandbytes
from evalkit.models.gguf_parts import joined_gguf
from evalkit.models.hf_adapter import attach_adapter
from evalkit.models.hf_cpu import compute_dtype_name, cpu_has_bf16, dense_head_input, dtype_name, int8_dynamic
from evalkit.models.hf_decode import FirstTokenTimer, eos_ids
from evalkit.models.hf_options import QUANTIZATIONS, HFOptions
from evalkit.models.hub import hub_snapshot
from evalkit.models.random_weights import build_random, count_parameters, plan_for, shape_for
from evalkit.models.registry import is_package_path, looks_like_path
from evalkit.models.weights import WeightsDamaged, check_weights, disk_bytes, explain_load_error, first_line
from evalkit.records import Generation, GenerationParams, ModelInfo, stable_hash

log = logging.getLogger(__name__)

__all__ = ["QUANTIZATIONS", "FirstTokenTimer", "HFModel", "HFOptions", "hub_snapshot", "cpu_has_bf16", "int8_dynamic"]


def _is_local(source: str) -> bool:
    return Path(os.path.expanduser(source)).exists()


class HFModel(Model):
    """Options: see HFOptions (source, adapter, quantization, dtype, chat, gguf_package/gguf_file/
    gguf_assemble, gguf_parts, finetuned, requires_adapter, use_safetensors (default true), device)."""

    options_model: ClassVar[type[HFOptions]] = HFOptions

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self._problem = options_problem(spec.label, "hf", HFOptions, spec.options)
        self.opts = HFOptions() if self._problem else HFOptions.model_validate(spec.options)
        self.model: Any = None
        self.tokenizer: Any = None
        self.device: str | None = None
        self.use_chat = False
        self._resolved: dict[str, Any] | None = None
        self._cap_noted = False

    # -- resolution (cheap, no torch) -------------------------------------------------------------
    def resolved(self) -> dict[str, Any]:
        """source/adapter after applying ``finetuned`` and GGUF packages; ``weights`` says which."""
        if self._problem:
            raise EvalkitError(self._problem)
        if self._resolved is not None:
            return self._resolved
        o = self.opts
        source, adapter, weights = o.source, o.adapter, "base"
        ft = o.finetuned
        if ft and Path(ft).is_dir():
            if (Path(ft) / "adapter_config.json").is_file():
                adapter, weights = ft, f"fine-tuned adapter {ft}"
            elif (Path(ft) / "config.json").is_file():
                source, weights = ft, f"fine-tuned checkpoint {ft}"
        gguf = None
        if o.gguf_parts:
            gguf = str(joined_gguf(o.gguf_parts))
            source = source or gguf
        elif o.gguf_package:
            from evalkit.models.gguf import package_gguf

            gguf = str(package_gguf(o.gguf_package, o.gguf_file, o.gguf_assemble))
            source = source or gguf
        elif isinstance(source, str) and source.lower().endswith(".gguf"):
            gguf = source
        if not source:
            raise EvalkitError(f"model {self.spec.label!r} has no 'source' (hub id, folder or .gguf file)")
        self._resolved = {"source": str(source), "adapter": adapter, "gguf": gguf, "weights": weights}
        return self._resolved

    def fingerprint(self) -> str:
        r = self.resolved()
        snap = None if _is_local(r["source"]) else hub_snapshot(r["source"])
        return stable_hash({"backend": "hf", "options": self.spec.options, "resolved": r, "snapshot": snap,
                            "files": files_fingerprint({"s": r["source"], "a": r["adapter"] or "", "g": r["gguf"] or ""})})

    def availability(self) -> str | None:
        if self.opts.weights == "random" and not self._problem:
            return self._random_problem()
        try:
            r = self.resolved()
        except EvalkitError as e:
            return str(e)
        o = self.opts
        src = r["source"]
        problems = []
        if r["gguf"]:
            if not Path(r["gguf"]).is_file():
                problems.append(f"GGUF file {r['gguf']} is missing")
        elif _is_local(src):
            if not (Path(src) / "config.json").is_file():
                problems.append(f"{src} is not a model folder (no config.json)")
        elif looks_like_path(src):
            problems.append(f"the path {src} does not exist")
        elif hub_snapshot(src) is None:
            problems.append(f"weights of {src} are not in the local Hugging Face cache (download needed)")
        if r["adapter"] and not (Path(r["adapter"]) / "adapter_config.json").is_file():
            if o.requires_adapter and is_package_path(r["adapter"]):
                problems.append(f"its adapter (evalkit package data {Path(r['adapter']).name}) is not in this "
                                f"install: train one with `evalkit finetune` and set -o {self.spec.label}.adapter=PATH")
            elif o.requires_adapter:
                problems.append(f"adapter {r['adapter']} is missing: train it with `evalkit finetune {self.spec.label}` "
                                f"or set another with -o {self.spec.label}.adapter=PATH")
            else:
                problems.append(f"adapter {r['adapter']} is missing (no adapter_config.json)")
        if not problems:
            try:  # headers only: a text file named .gguf or a cut download fails here, in one line
                for path in (r["gguf"] or (src if _is_local(src) else None), r["adapter"]):
                    if path:
                        check_weights(path)
            except WeightsDamaged as e:
                problems.append(str(e))
        return "; ".join(problems) or None

    # -- random weights (weights = "random") ----------------------------------------------------------
    def _random_problem(self) -> str | None:
        try:
            shape_for(self.spec)
        except EvalkitError as e:
            return str(e)
        if self.opts.quantization not in (None, "nf4"):
            return f"{self.spec.label}: random weights are built in nf4 or unquantized, not {self.opts.quantization!r}"
        return None

    def _load_random(self) -> None:
        import torch
        from transformers import AutoTokenizer

        source = shape_for(self.spec)
        if not source.tokenizer_folder:
            raise EvalkitError(f"{self.spec.label}: random weights build without downloads, but writing stories needs "
                               "the tokenizer, which is not on this machine: measure its speed and memory with "
                               f"`evalkit capacity {self.spec.label}`")
        self.device = self.opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = build_random(source, plan_for(self.spec, self.device)[0]).model
        tok = AutoTokenizer.from_pretrained(source.tokenizer_folder, trust_remote_code=False,
                                            local_files_only=not _is_local(source.tokenizer_folder))
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token or tok.unk_token
        self.tokenizer = tok
        self.use_chat = self.opts.chat and bool(getattr(tok, "chat_template", None))

    # -- loading ---------------------------------------------------------------------------------------
    def load(self) -> None:
        if self._problem:
            raise EvalkitError(self._problem)
        if self.opts.weights == "random":
            problem = self._random_problem()
            if problem:
                raise EvalkitError(problem)
            self._load_random()
            return
        problem = self.availability()
        if problem:
            # the hub paragraph only where a download is what is missing
            raise WeightsMissing(self._missing_paragraph(problem) if "Hugging Face cache" in problem
                                 else f"cannot run {self.spec.label!r}: {problem}")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        r = self.resolved()
        o = self.opts
        self.device = o.device or ("cuda" if torch.cuda.is_available() else "cpu")
        folder = r["source"]
        if r["gguf"]:
            from evalkit.models.gguf import dequantized_folder

            try:
                folder = str(dequantized_folder(r["gguf"]))
            except Exception as e:
                why = explain_load_error(e, r["gguf"])
                if why:
                    raise WeightsDamaged(why) from None
                raise
        kwargs: dict[str, Any] = {"trust_remote_code": False, "dtype": self._dtype(torch)}
        local = _is_local(folder)
        if not local:
            kwargs["local_files_only"] = True  # availability() saw it in the cache; never reach for the hub here
        if o.use_safetensors and (not local or any(Path(folder).glob("*.safetensors"))):
            kwargs["use_safetensors"] = True
        q = o.quantization
        if q == "int8-dynamic":
            if self.device != "cpu":
                raise EvalkitError(f"{self.spec.label}: quantization int8-dynamic runs on the CPU only "
                                   f"(device is {self.device}): use nf4 or int8 on a GPU")
            kwargs["dtype"] = torch.float32  # quantize_dynamic quantizes fp32 Linear layers
        elif q:
            kwargs["quantization_config"] = self._bnb_config(q, torch, self.device)
            kwargs["device_map"] = {"": self.device if self.device != "cuda" else 0}
        try:
            model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
        except Exception as e:
            why = explain_load_error(e, folder)
            if why:
                raise WeightsDamaged(why) from None
            if not isinstance(e, (OSError, ValueError, ImportError)):
                raise
            if isinstance(e, ImportError):
                raise EvalkitError(f"{self.spec.label}: {first_line(e)}") from None
            raise ModelNotFound(f"{folder}: cannot load as a causal language model ({first_line(e)})") from None
        if q == "int8-dynamic":
            model = int8_dynamic(model)
        elif not q:
            model.to(self.device)
        tok_folder = folder
        if r["adapter"]:
            model = attach_adapter(model, r["adapter"], folder, lambda spec: HFModel(spec).resolved())
            if (Path(r["adapter"]) / "tokenizer_config.json").is_file():
                tok_folder = r["adapter"]
        model.eval()
        if self.device == "cpu":
            dense_head_input(model)
        try:
            tok = AutoTokenizer.from_pretrained(tok_folder, trust_remote_code=False,
                                                local_files_only=not _is_local(tok_folder))
        except (OSError, ValueError) as e:
            raise ModelNotFound(f"{tok_folder}: no usable tokenizer ({first_line(e)})") from None
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token or tok.unk_token
        self.model, self.tokenizer = model, tok
        self.use_chat = o.chat and bool(getattr(tok, "chat_template", None))

    def _dtype(self, torch: Any) -> Any:
        name = dtype_name(self.opts.dtype, self.device, cpu_has_bf16)  # the name tests patch
        try:
            return getattr(torch, name)
        except AttributeError:
            raise EvalkitError(f"unknown dtype {name!r}: use auto, float32, bfloat16 or float16") from None

    @staticmethod
    def _bnb_config(q: str, torch: Any, device: str) -> Any:
        try:
            if import_bitsandbytes() is None:
                raise ImportError("bitsandbytes")
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise EvalkitError(f"quantization {q!r} needs bitsandbytes: pip install bitsandbytes") from None
        if q == "nf4":
            return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                      bnb_4bit_compute_dtype=getattr(torch, compute_dtype_name("bfloat16", device, cpu_has_bf16)))
        return BitsAndBytesConfig(load_in_8bit=True)

    def _missing_paragraph(self, problem: str) -> str:
        return (
            f"cannot run {self.spec.label!r}: {problem}. The Hugging Face hub is not reachable from here, "
            "so weights must be local: download them on a connected machine (huggingface-cli download ID) "
            "and copy the cache (~/.cache/huggingface) here, or pass a local folder or .gguf file instead "
            "of the name, or define the model in a models file (--models-file / evalkit.toml) with "
            "source = \"/path/to/folder\"."
        )

    # -- generation ------------------------------------------------------------------------------------
    def render(self, req: Request) -> str:
        if self.use_chat:
            messages = [{"role": "system", "content": req.system}, {"role": "user", "content": req.user}]
            try:
                return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            except Exception:  # some templates reject a system role: fold it into the user turn
                messages = [{"role": "user", "content": f"{req.system}\n\n{req.user}"}]
                return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return req.plain_prompt

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Generation]:
        if self.model is None:
            self.load()
        texts = [self.render(r) for r in requests]
        # chat templates already hold BOS; plain prompts get the tokenizer's usual special tokens
        encoded = [self.tokenizer(t, add_special_tokens=not self.use_chat)["input_ids"] for t in texts]
        results: list[Generation | None] = [None] * len(texts)
        limit = self.max_positions()
        if limit is not None:
            # A prompt that fills the whole context leaves no room for a story: refused per story (not
            # truncated: cutting the instructions would make a story for another prompt), recorded with
            # the story's error so the rest of the batch is kept.
            for i, ids in enumerate(encoded):
                if len(ids) >= limit:
                    results[i] = Generation(text="", prompt_tokens=len(ids), error=(
                        f"the prompt is {len(ids)} tokens but {self.spec.label} holds {limit} positions "
                        "(prompt + story): shorten the prompt or use a model with a longer context"))
            if all(g is not None for g in results):
                raise EvalkitError(f"{self.spec.label}: every prompt is longer than the model's context of {limit} "
                                   f"positions (the shortest is {min(map(len, encoded))} tokens): shorten the "
                                   "suite's prompts or use a model with a longer context")
        order = sorted((i for i in range(len(texts)) if results[i] is None), key=lambda i: len(encoded[i]))
        batch = max(1, params.batch_size)
        start, oom_retries = 0, 0
        while start < len(order):
            idx = order[start : start + batch]
            try:
                gens = self._generate_batch([encoded[i] for i in idx], params)
            except Exception as e:
                if not _is_oom(e) or batch == 1:
                    raise
                batch, oom_retries = max(1, batch // 2), oom_retries + 1
                self._empty_cache()
                continue
            for i, g in zip(idx, gens):
                if oom_retries:
                    g.extra["oom_retries"] = oom_retries
                    g.extra["batch_size_after_oom"] = batch
                results[i] = g
            start += len(idx)
        return [g for g in results if g is not None]

    def max_positions(self) -> int | None:
        """How many tokens (prompt + story) the loaded model can attend over; None when it does not say."""
        cfg = getattr(self.model, "config", None)
        cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            v = getattr(cfg, name, None)
            if isinstance(v, int) and v > 0:
                return v
        return None

    def _generate_batch(self, ids: list[list[int]], params: GenerationParams) -> list[Generation]:
        import torch
        from transformers import set_seed

        tok = self.tokenizer
        enc = tok.pad({"input_ids": ids}, padding=True, return_tensors="pt").to(self.model.device)
        set_seed(params.seed)
        sampling: dict[str, Any] = {"do_sample": params.do_sample}
        if params.do_sample:
            sampling.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or None)
        else:
            sampling.update(temperature=None, top_p=None, top_k=None)
        # Generating past the position limit indexes past the position table (an IndexError that lost the
        # whole batch): cap the story at what fits after the batch's longest (left-padded) prompt.
        max_new, capped = params.max_new_tokens, None
        limit = self.max_positions()
        if limit is not None and enc["input_ids"].shape[1] + max_new > limit:
            max_new = capped = limit - enc["input_ids"].shape[1]
            if not self._cap_noted:
                self._cap_noted = True
                log.warning(f"note: {self.spec.label}: stories capped at {capped} new tokens (not "
                            f"{params.max_new_tokens}): the model holds {limit} positions, prompt + story; "
                            "the cap is recorded with each story as max_new_tokens_capped")
        streamer = FirstTokenTimer()
        self._sync()
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                **enc, max_new_tokens=max_new, repetition_penalty=params.repetition_penalty,
                pad_token_id=tok.pad_token_id, streamer=streamer, **sampling,
            )
        self._sync()
        wall = time.perf_counter() - t0
        ttft = (streamer.first - t0) if streamer.first else None
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        eos = eos_ids(self.model, tok)
        gens = []
        for prompt_ids, seq in zip(ids, new):
            n = len(seq)
            for j, t in enumerate(seq):
                if t in eos:
                    n = j + 1
                    break
            text = tok.decode(seq[:n], skip_special_tokens=True).strip()
            extra: dict[str, Any] = {"batch_n": len(ids)}
            if capped is not None:
                extra["max_new_tokens_capped"] = capped
            gens.append(Generation(text=text, prompt_tokens=len(prompt_ids), completion_tokens=n,
                                   latency_s=wall, ttft_s=ttft, extra=extra))
        return gens

    def _sync(self) -> None:
        if self.device and self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    def _empty_cache(self) -> None:
        if self.device and self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    # -- description -----------------------------------------------------------------------------------
    def describe(self) -> ModelInfo:
        r = self.resolved()
        info = ModelInfo(name=self.spec.label, backend="hf", source=r["source"], adapter=r["adapter"],
                         quantization=self.opts.quantization, disk_bytes=disk_bytes([r["gguf"] or r["source"], r["adapter"]]),
                         extra={"weights": r["weights"], "gguf": r["gguf"]})
        if self.opts.weights == "random":  # nothing on disk was read
            info.disk_bytes, info.adapter, info.extra["weights"] = None, None, "random (real shape, random values)"
        if self.model is not None:
            info.parameters = _count_parameters(self.model)
            info.dtype = str(getattr(self.model, "dtype", "")).replace("torch.", "") or None
            info.device = str(self.model.device)
            info.chat_template = self.use_chat
        return info

    def training_record(self) -> Any:
        from evalkit.models.base import find_training_record

        r = self.resolved()
        return find_training_record([r["adapter"], r["source"]])

    def close(self) -> None:
        self.model = None
        self.tokenizer = None
        import gc

        gc.collect()
        self._empty_cache()


def _count_parameters(model: Any) -> int:
    return count_parameters(model)[0]


def _is_oom(e: BaseException) -> bool:
    return type(e).__name__ == "OutOfMemoryError" or "out of memory" in str(e).lower()


