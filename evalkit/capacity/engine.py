"""Capacity of a model at its real shape with random weights: build time, parameters, bytes in memory,
peak memory, time to first token, tokens per second at batch 1 and at the run's batch size, and seconds
per story at the suite's token budget.

Where a full measurement would take too long (an 8B 4-bit decode on a CPU), layer prefixes are timed
(1, 2 and 3 of 32 layers by default on a CPU) and each time is extrapolated to full depth by a linear fit in the
layer count (capacity.fit); every figure says whether it was measured or estimated, and from what.
Memory is measured on the full model whenever it fits in the memory available; otherwise it is computed
from the built layers' real tensor sizes, and said so."""

from __future__ import annotations

import gc
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from evalkit._version import __version__

from evalkit.capacity.fit import fit_layers
from evalkit.capacity.prompts import prompt_lengths
from evalkit.records import (
    AdapterShape,
    CapacityMemory,
    CapacityRecord,
    Figure,
    LayerFit,
    PromptLengths,
    TimingSample,
)
from evalkit.errors import EvalkitError
from evalkit.measure import MemoryTracker, device_line, git_sha, hardware, library_versions
from evalkit.models.base import ModelSpec, options_problem
from evalkit.models.hf import FirstTokenTimer
from evalkit.models.hf_options import HFOptions
from evalkit.models.random_weights import (
    BuildPlan,
    BuiltModel,
    ShapeSource,
    build_random,
    count_parameters,
    lora_parameters,
    plan_for,
    set_depth,
    shape_for,
    tensor_bytes,
)
from evalkit.records import GenerationParams
from evalkit.suites import Suite

# the batch prefill costs ~80 s per 8B nf4 layer on 2 CPU cores: 1/2/3 keeps a compare of both seed models
# within 15 minutes (2/4/8 took 25); the fit over three depths still gives its error (docs/capacity.md)
DEFAULT_PREFIXES = (1, 2, 3)
FULL_DEPTH_BELOW = 1_000_000_000  # parameters: smaller models are timed at full depth on a CPU too
PREFIX_TOKENS = (8, 4)  # tokens per timed call (batch 1, batch) when layer prefixes are timed
HEADROOM = 1.15  # quantization and first-use repacking need room beyond the model's own bytes
HEADROOM_BYTES = 1_000_000_000
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def parse_ints(text: str | None, what: str) -> tuple[int, ...] | None:
    """'2,4,8' -> (2, 4, 8); None or 'auto' -> None."""
    if not text or text == "auto":
        return None
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise EvalkitError(f"bad {what} {text!r}: write numbers separated by commas, e.g. 2,4,8") from None


@dataclass
class CapacitySettings:
    """How to measure. None everywhere means: decide from the model and the device."""

    prefixes: tuple[int, ...] | None = None  # layer prefixes to time; None: full depth on a GPU or for < 1B
    measure_tokens: tuple[int, int] | None = None  # tokens per timed call at batch 1 / batch; None: auto
    batch_size: int | None = None  # the run's batch size; None: the suite's
    max_new_tokens: int | None = None  # the story budget; None: the suite's
    split: str = "test"
    device: str | None = None
    memory_limit_bytes: int | None = None  # cap on what the build may use (besides available RAM)
    seed: int = 0


def measure_capacity(spec: ModelSpec, suite: Suite, settings: CapacitySettings | None = None,
                     note: Callable[[str], None] | None = None) -> CapacityRecord:
    """Build ``spec`` with random weights at its real shape and measure it; raises ShapeUnknown (an
    EvalkitError: one line, exit 2) when its configuration cannot be known."""
    import torch

    settings = settings or CapacitySettings()
    say = note or (lambda _msg: None)
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]
    problem = options_problem(spec.label, spec.backend, HFOptions, spec.options) if spec.backend == "hf" else None
    source = shape_for(spec)  # non-hf backends and unknown configurations stop here, in one line
    if problem:
        raise EvalkitError(problem)
    opts = HFOptions.model_validate(spec.options)
    device = settings.device or opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
    gen = GenerationParams.model_validate({k: v for k, v in suite.generation.items() if k != "samples"})
    budget = settings.max_new_tokens or gen.max_new_tokens
    prompts = prompt_lengths(suite, settings.split, source, opts.chat)
    batch = min(settings.batch_size or gen.batch_size, len(prompts.lengths))

    plan, recipe_name = plan_for(spec, device)
    estimate = estimate_model(source, plan)
    full_layers = estimate.full_layers
    prefixes = choose_prefixes(settings.prefixes, estimate.parameters, full_layers, device.startswith("cuda"))
    at_full = prefixes == (full_layers,)
    tokens = settings.measure_tokens or ((budget, budget) if at_full else PREFIX_TOKENS)
    available = available_bytes(device, settings.memory_limit_bytes)
    needed = int(estimate.bytes * HEADROOM + HEADROOM_BYTES)
    build_full = available is None or needed <= available
    # On a CPU, quantizing every layer of an 8B model from random values takes ~10 min: the layers past the
    # deepest prefix are copies of the quantized ones (same bytes and speed), and the build time is estimated.
    quantize_layers = None if at_full or device.startswith("cuda") else max(prefixes)
    plan = replace(plan, layers=None if build_full else max(prefixes), quantize_layers=quantize_layers,
                   seed=settings.seed)
    say(f"{spec.label}: building {'all' if build_full else max(prefixes)} of {full_layers} layers "
        f"({plan.quantization or plan.dtype}{', LoRA r' + str(plan.lora.r) if plan.lora else ''}) on {device}; "
        f"timing {'full depth' if at_full else 'layers ' + '/'.join(map(str, prefixes))}")

    tracker = MemoryTracker()
    tracker.start()
    built = build_random(source, plan)
    model_bytes = tensor_bytes(built.model)
    layers = list(built.layers())
    layer_bytes = tensor_bytes(layers[0])
    total, _ = count_parameters(built.model)
    adapter_params = lora_parameters(built.model)
    per_layer_params = count_parameters(layers[0])[0]
    if built.built_layers < full_layers:  # only the prefix layers exist: the rest is counted from layer 0
        missing = full_layers - built.built_layers
        total += missing * per_layer_params
        adapter_params += missing * lora_parameters(layers[0])
        model_bytes += missing * layer_bytes
    samples = _time_prefixes(built, layers, prefixes, prompts, batch, tokens, gen, device, settings.seed, say)
    set_depth(built, layers, len(layers))
    reading = tracker.stop()

    base_params = total - adapter_params
    fits: dict[str, LayerFit] = {}
    cum = [built.fixed_s + sum(built.layer_s[:k]) for k in prefixes]
    if built.quantized_layers >= full_layers:
        load = Figure(value=built.build_s, unit="s", basis="measured")
        fits["load"] = fit_layers([full_layers], [built.build_s], full_layers)
    else:
        fits["load"] = fit_layers(list(prefixes), cum, full_layers)
        load = _figure(fits["load"], "s", full_layers)
    for name, b in (("b1", 1), ("batch", batch)):
        rows = [s for s in samples if s.batch == b]
        fits[f"ttft_{name}"] = fit_layers([s.layers for s in rows], [s.ttft_s for s in rows], full_layers)
        if all(s.step_s is not None for s in rows):
            fits[f"step_{name}"] = fit_layers([s.layers for s in rows], [s.step_s or 0.0 for s in rows], full_layers)
    notes = []
    for name, fit in list(fits.items()):
        if fit.predicted_s <= 0:  # noise larger than the per-layer cost (tiny models): no usable trend
            fits[name] = fit.model_copy(update={"predicted_s": max(fit.seconds), "error_s": None})
            notes.append(f"{name}: the fit over layers did not rise with depth (noise beyond the per-layer cost); "
                         "the deepest prefix's time is used, a lower bound")
    ttft_1, ttft_b = _figure(fits["ttft_b1"], "s", full_layers), _figure(fits["ttft_batch"], "s", full_layers)
    step_1, step_b = fits.get("step_b1"), fits.get("step_batch")
    tps_1 = _rate(step_1, 1, full_layers)
    tps_b = _rate(step_b, batch, full_layers)
    story_1 = _story(fits["ttft_b1"], step_1, budget, 1, tokens[0], full_layers, samples)
    story_b = _story(fits["ttft_batch"], step_b, budget, batch, tokens[1], full_layers, samples)

    note_mem = None
    if build_full:
        how = "measured"
        if reading.kind == "rss" and not at_full:
            note_mem = (f"peak RSS over building all {full_layers} layers and timing prefixes up to {max(prefixes)}: "
                        "generating at full depth adds only the first-use repacking of the other layers' 4-bit "
                        "weights (about one layer's size at a time) and a longer KV cache")
    else:
        how = "computed"
        note_mem = (f"the full model needs about {needed / 1e9:.1f} GB with headroom and "
                    f"{(available or 0) / 1e9:.1f} GB was available: {built.built_layers} layers were built and "
                    f"the other {full_layers - built.built_layers} counted at layer 0's tensor size")
    memory = CapacityMemory(how=how, bytes_in_memory=model_bytes, peak=reading,
                            peak_added_bytes=_added(reading) if how == "measured" else None,
                            needed_bytes=needed, available_bytes=available, note=note_mem)
    basis = "measured at full depth" if at_full else f"estimated from {'/'.join(map(str, prefixes))} of {full_layers} layers"
    if tokens[0] < budget or tokens[1] < budget:
        notes.append(f"seconds per story = TTFT + ({budget} - 1) decode steps, each step timed over the first "
                     f"{tokens[0]} (batch 1) / {tokens[1]} (batch {batch}) tokens: attention over a longer KV cache "
                     "is not included (small beside the weights' cost at these lengths)")
    if built.quantized_layers < built.built_layers:
        notes.append(f"layers {built.quantized_layers + 1}-{built.built_layers} hold copies of layers "
                     f"1-{built.quantized_layers}' quantized tensors (same bytes and speed); the build time is "
                     f"estimated from {'/'.join(map(str, prefixes))} layers")
    if not prompts.exact:
        notes.append("prompt lengths are pre-token counts (a lower bound): the tokenizer is not on this machine")
    if plan.lora is not None:
        notes.append(f"LoRA adapter of recipe {recipe_name} kept unmerged, as the hf backend keeps the seed's adapter")
    adapter = None
    if plan.lora is not None and recipe_name:
        adapter = AdapterShape(recipe=recipe_name, r=plan.lora.r, alpha=plan.lora.alpha, dropout=plan.lora.dropout,
                               target_modules=plan.lora.target_modules, parameters=adapter_params)
    cfg = built.config
    tok_vocab = source.tokenizer_shape.vocab_size if source.tokenizer_shape else _tokenizer_vocab(source)
    record = CapacityRecord(
        label=spec.label, spec=spec.to_dict(), source=str(spec.options.get("source")), shape_origin=source.origin,
        model_type=str(cfg.model_type), full_layers=full_layers, hidden_size=getattr(cfg, "hidden_size", None),
        vocab_size=int(cfg.vocab_size), tokenizer_vocab_size=tok_vocab, quantization=plan.quantization,
        dtype=plan.dtype, compute_dtype=plan.compute_dtype if plan.quantization else None,
        double_quant=plan.double_quant if plan.quantization else None, adapter=adapter,
        device=device_line(hardware()) if not device.startswith("cuda") else f"cuda {torch.cuda.get_device_name(0)}",
        hardware=hardware(), libraries=library_versions(), threads=torch.get_num_threads(),
        load_average=[round(load_start, 2), round(os.getloadavg()[0], 2)],
        parameters=base_params, adapter_parameters=adapter_params, basis=basis, layers_measured=list(prefixes),
        quantized_layers=built.quantized_layers, load_s=load, memory=memory, prompts=prompts,
        max_new_tokens=budget, batch_size=batch, measure_tokens=list(tokens),
        ttft_s=ttft_1, ttft_batch_s=ttft_b, tokens_per_s=tps_1, tokens_per_s_batch=tps_b,
        seconds_per_story_b1=story_1, seconds_per_story=story_b, fits=fits, samples=samples, notes=notes,
        wall_s=round(time.perf_counter() - t_start, 3), evalkit_version=__version__, git_sha=git_sha(),
        command=sys.argv[:],
    )
    del built, layers
    _free(device)
    return record


# ------------------------------------------------------------------------------------------ pieces


@dataclass(frozen=True)
class ModelEstimate:
    parameters: int
    bytes: int  # the built model's tensors, from the meta model's shapes
    full_layers: int


def estimate_model(source: ShapeSource, plan: BuildPlan) -> ModelEstimate:
    """Parameters and bytes from the meta model (nothing allocated): a 4-bit weight is half a byte per
    value plus its block scale (4 bytes per 64 values: the most any layout here keeps)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg_dict = {k: v for k, v in source.config.items() if k not in ("transformers_version", "_name_or_path",
                                                                     "quantization_config", "auto_map")}
    cfg = AutoConfig.for_model(cfg_dict.pop("model_type"), **cfg_dict)
    dtype = getattr(torch, plan.dtype)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    size = torch.empty(0, dtype=dtype).element_size()
    params = total = 0
    for name, p in model.named_parameters():
        params += p.numel()
        quantized = plan.quantization == "nf4" and p.dim() == 2 and name.endswith(".weight") and \
            "embed" not in name and "lm_head" not in name and "wte" not in name and "wpe" not in name
        total += int(p.numel() * (0.5 + 4 / 64)) if quantized else p.numel() * size
    return ModelEstimate(parameters=params, bytes=total, full_layers=cfg.num_hidden_layers)


def available_bytes(device: str, limit: int | None, cgroup_root: Path = CGROUP_ROOT,
                    proc_cgroup: Path = PROC_CGROUP) -> int | None:
    """What a build may use: free GPU memory, or the machine's available RAM within this process's
    memory cgroup (a container's limit, which the machine's figure does not show); capped by ``limit``."""
    avail: int | None = None
    if device.startswith("cuda"):
        import torch

        avail = int(torch.cuda.mem_get_info()[0])
    else:
        avail = int(psutil.virtual_memory().available)
        free = cgroup_free_bytes(cgroup_root, proc_cgroup)
        if free is not None:
            avail = min(avail, free)
    if limit is not None:
        avail = limit if avail is None else min(avail, limit)
    return avail


def cgroup_free_bytes(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int | None:
    """What this process's memory cgroup still allows: the tightest of it and its ancestors (a limit on a
    parent applies), limit minus usage; None without a limit. v2 reads memory.max and memory.current, v1
    the memory controller's memory.limit_in_bytes and memory.usage_in_bytes."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    free = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        v2 = controllers == ""
        if not v2 and "memory" not in controllers.split(","):
            continue
        base = root if v2 else root / "memory"
        names = ("memory.max", "memory.current") if v2 else ("memory.limit_in_bytes", "memory.usage_in_bytes")
        parts = [p for p in path.split("/") if p and p != ".."]
        for k in range(len(parts), -1, -1):
            try:
                limit, used = ((base.joinpath(*parts[:k]) / n).read_text().strip() for n in names)
            except OSError:
                continue
            if limit.isdigit() and used.isdigit() and int(limit) < 1 << 60:  # v1 writes "no limit" as ~2**63
                free.append(max(0, int(limit) - int(used)))
    return min(free) if free else None


def choose_prefixes(asked: tuple[int, ...] | None, parameters: int, full_layers: int, gpu: bool,
                    cpu_defaults: tuple[int, ...] = DEFAULT_PREFIXES) -> tuple[int, ...]:
    """The layer prefixes to time: those asked for (checked), else full depth on a GPU or for a model
    under 1B parameters, else ``cpu_defaults`` below the full depth."""
    if asked:
        bad = [k for k in asked if k < 1 or k > full_layers]
        if bad:
            raise EvalkitError(f"layer prefixes must lie between 1 and {full_layers}: got {', '.join(map(str, bad))}")
        return tuple(sorted(set(asked)))
    if gpu or parameters < FULL_DEPTH_BELOW:
        return (full_layers,)
    return tuple(k for k in cpu_defaults if k < full_layers) or (full_layers,)


def _time_prefixes(built: BuiltModel, layers: list[Any], prefixes: tuple[int, ...], prompts: PromptLengths,
                   batch: int, tokens: tuple[int, int], gen: GenerationParams, device: str, seed: int,
                   say: Callable[[str], None]) -> list[TimingSample]:
    import torch

    vocab = int(built.config.vocab_size)
    g = torch.Generator().manual_seed(seed)
    ids = {k: torch.randint(0, vocab, (n,), generator=g) for k, n in prompts.lengths.items()}
    one = [ids[prompts.batch1_item]]
    # the batch: the run's first batch_size prompts in the order the hf backend batches them (by length)
    many = [ids[k] for k in sorted(prompts.lengths, key=lambda k: prompts.lengths[k])[:batch]]
    out = []
    for k in prefixes:
        set_depth(built, layers, k)
        t = time.perf_counter()
        timed_generate(built.model, one, 1, gen, device, seed)  # first use: kernels, 4-bit repacking
        warm = time.perf_counter() - t
        for rows, n in ((one, tokens[0]), (many, tokens[1])):
            ttft, total = timed_generate(built.model, rows, n, gen, device, seed)
            step = (total - ttft) / (n - 1) if n > 1 else None
            out.append(TimingSample(layers=k, batch=len(rows), prompt_tokens=[len(r) for r in rows], new_tokens=n,
                                    ttft_s=round(ttft, 4), total_s=round(total, 4),
                                    step_s=None if step is None else round(step, 5),
                                    warmup_s=round(warm, 3) if rows is one else None))
            say(f"  {k} layers, batch {len(rows)}: first token {ttft:.2f} s, {n} tokens in {total:.2f} s")
    return out


def timed_generate(model: Any, rows: list[Any], new_tokens: int, gen: GenerationParams, device: str,
                   seed: int) -> tuple[float, float]:
    """(seconds to the first new token, seconds of the call) for left-padded random prompts, sampling as
    the suite samples and generating exactly ``new_tokens`` (random weights may emit EOS early)."""
    import torch
    from transformers import set_seed

    width = max(len(r) for r in rows)
    input_ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for i, r in enumerate(rows):
        input_ids[i, width - len(r):] = r
        mask[i, width - len(r):] = 1
    dev = next(model.parameters()).device if device.startswith("cuda") else torch.device("cpu")
    input_ids, mask = input_ids.to(dev), mask.to(dev)
    sampling: dict[str, Any] = {"do_sample": gen.do_sample}
    if gen.do_sample:
        sampling.update(temperature=gen.temperature, top_p=gen.top_p, top_k=gen.top_k or None)
    set_seed(seed)
    timer = FirstTokenTimer()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                       repetition_penalty=gen.repetition_penalty, pad_token_id=0, streamer=timer, **sampling)
    if cuda:
        torch.cuda.synchronize()
    total = time.perf_counter() - t0
    return (timer.first - t0) if timer.first else total, total


def _figure(fit: LayerFit, unit: str, full_layers: int) -> Figure:
    measured = fit.slope_s is None
    return Figure(value=fit.predicted_s, unit=unit, error=fit.error_s,
                  basis="measured" if measured else _basis(fit.layers, full_layers))


def _basis(layers: list[int], full_layers: int) -> str:
    return f"estimated from {'/'.join(map(str, sorted(set(layers))))} of {full_layers} layers"


def _rate(step: LayerFit | None, batch: int, full_layers: int) -> Figure:
    if step is None or step.predicted_s <= 0:
        return Figure(value=None, unit="tokens/s", basis="not measured (one token per call)")
    value = batch / step.predicted_s
    err = batch * step.error_s / step.predicted_s**2 if step.error_s is not None else None
    return Figure(value=value, unit="tokens/s", error=err,
                  basis="measured" if step.slope_s is None else _basis(step.layers, full_layers))


def _story(ttft: LayerFit, step: LayerFit | None, budget: int, batch: int, measured_tokens: int, full_layers: int,
           samples: list[TimingSample]) -> Figure:
    """Seconds per story at the token budget: a call's time shared by its ``batch`` stories."""
    if ttft.slope_s is None and measured_tokens == budget:
        total = next(s.total_s for s in samples if s.batch == batch and s.layers == full_layers)
        return Figure(value=total / batch, unit="s", basis="measured")
    if step is None:
        return Figure(value=None, unit="s", basis="not measured (one token per call)")
    value = (ttft.predicted_s + (budget - 1) * step.predicted_s) / batch
    err = None
    if ttft.error_s is not None and step.error_s is not None:
        err = math.sqrt(ttft.error_s**2 + ((budget - 1) * step.error_s) ** 2) / batch
    basis = _basis(ttft.layers, full_layers) if ttft.slope_s is not None else "measured at full depth"
    return Figure(value=value, unit="s", error=err,
                  basis=f"{basis}, {measured_tokens} of {budget} tokens" if measured_tokens < budget else basis)


def _added(reading: Any) -> int | None:
    if reading.peak_bytes is None:
        return None
    base = reading.baseline_bytes if reading.kind == "rss" and reading.baseline_bytes else 0
    return max(0, reading.peak_bytes - base)


def _tokenizer_vocab(source: ShapeSource) -> int | None:
    if not source.tokenizer_folder:
        return None

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source.tokenizer_folder, trust_remote_code=False,
                                        local_files_only=not Path(source.tokenizer_folder).exists())
    return len(tok)


def _free(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
