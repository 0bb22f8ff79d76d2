"""The generation stage: every candidate writes the suite items it has not written yet, each batch
appended at once to the run's generations.jsonl and to the generation cache, its load time and peak
memory measured.

Generations are cached per model fingerprint in <results>/.cache/, keyed by (model, suite item,
params, seed): a rerun, or a resume after Ctrl-C or kill -9, regenerates only what is missing and
needs no model load when nothing is missing. The runner (evalkit.runner, through
pipeline.ensure_generated) and isolation (a model in a child process) both call ``generate_model``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit.errors import EvalkitError, WeightsMissing
from evalkit.measure import MemoryTracker
from evalkit.models.base import Model, ModelSpec, Request, options_problem
from evalkit.models.hf import hub_snapshot
from evalkit.models.registry import (
    load_backend,
    load_presets,
    looks_like_path,
    resolve_model,
)
from evalkit.records import (
    CachedModel,
    GenerationParams,
    GenerationRecord,
    ModelRun,
    append_jsonl,
    iter_jsonl,
    read_json,
    stable_hash,
    write_json,
)
from evalkit.sampling import sample_generation_key, sample_params
from evalkit.suites import Suite, SuiteItem

CACHE_DIR = ".cache"


@dataclass
class Candidate:
    spec: ModelSpec
    model: Model
    key: str


def generation_key(model_key: str, item: SuiteItem, params: GenerationParams) -> str:
    return stable_hash({"model": model_key, "item": item.content_hash(), "params": params.cache_fields()}, 24)


def resolve_candidates(model_args: Sequence[str], models_file: str | Path | None = None,
                       overrides: dict[str, dict[str, Any]] | None = None) -> list[Candidate]:
    """Resolve every model argument, checking ``-o MODEL.KEY=VALUE`` overrides against the models given
    and the backend's typed options, and refusing one model named twice (also under two spellings)."""
    if not model_args:
        raise EvalkitError("name at least one model (a preset, a folder, a .gguf file or a hub id)")
    overrides = overrides or {}
    for name in overrides:
        if name not in model_args:
            raise EvalkitError(f"-o {name}.{next(iter(overrides[name]), 'KEY')}=...: {name!r} is not one of the "
                               f"models given ({', '.join(model_args)}); write -o MODEL.KEY=VALUE with a model "
                               "exactly as named on the command line")
    presets = load_presets(models_file)
    out: list[Candidate] = []
    labels: set[str] = set()
    seen: dict[str, str] = {}  # what an argument names (a preset, or a resolved path) -> the argument
    for arg in model_args:
        named = _named(arg, presets)
        if named in seen:
            same = "" if seen[named] == arg else f" ({seen[named]!r} and {arg!r} are the same {named})"
            raise EvalkitError(f"model {arg!r} is named twice{same}")
        seen[named] = arg
    for arg in model_args:
        spec = resolve_model(arg, models_file, overrides.get(arg))
        if spec.label in labels and arg != spec.label:
            # a folder named like a preset (results/adapters/smollm2-135m): label it by the path given
            spec = ModelSpec(arg, spec.backend, spec.options, spec.description)
        if spec.label in labels:
            raise EvalkitError(f"model {spec.label!r} is named twice")
        labels.add(spec.label)
        cls = load_backend(spec.backend)
        if cls.options_model is not None:
            fields = cls.options_model.model_fields
            unknown = [k for k in overrides.get(arg, {}) if k not in fields]
            if unknown:
                raise EvalkitError(f"-o {arg}.{unknown[0]}: backend {spec.backend} has no option {unknown[0]!r}; "
                                   f"valid options: {', '.join(fields)}")
            problem = options_problem(spec.label, spec.backend, cls.options_model, spec.options)
            if problem:
                raise EvalkitError(problem)
        model = cls(spec)
        out.append(Candidate(spec, model, model.fingerprint()))
    return out


def _named(arg: str, presets: dict[str, Any]) -> str:
    """What a model argument names: a preset by name, a local file or folder by its resolved path."""
    path = Path(arg).expanduser()
    if arg not in presets and path.exists():
        return str(path.resolve())
    return arg


class RunProgress:
    """Callbacks the CLI implements (rich progress bars); the default prints nothing."""

    def model_start(self, label: str, total: int, cached: int) -> None: ...
    def model_loaded(self, label: str, load_s: float) -> None: ...
    def advance(self, label: str, n: int, tokens: int, seconds: float) -> None: ...
    def model_done(self, label: str) -> None: ...
    def stage(self, text: str) -> None: ...


def generation_params(suite: Suite, overrides: dict[str, Any] | None) -> GenerationParams:
    """The suite's [generation] settings with the command line's overrides, checked."""
    try:
        generation = {k: v for k, v in suite.generation.items() if k != "samples"}  # a run setting, not a sampler's
        return GenerationParams.model_validate({**generation, **(overrides or {})})
    except ValidationError as e:
        err = e.errors()[0]
        raise EvalkitError(f"bad generation parameter {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def cache_paths(cache: Path, key: str) -> tuple[Path, Path]:
    return cache / "generations" / f"{key}.jsonl", cache / "models" / f"{key}.json"


def cached_generations(cache: Path, key: str) -> dict[str, GenerationRecord]:
    gen_file, _ = cache_paths(cache, key)
    return {r.key: r for r in iter_jsonl(gen_file, GenerationRecord) if r.error is None}


def sample_keys(model_key: str, items: list[SuiteItem], params: GenerationParams, samples: int) -> dict[tuple[str, int], str]:
    """(item id, sample) -> generation cache key; sample 0's key is generation_key's."""
    return {(i.id, k): sample_generation_key(model_key, i, params, k) for k in range(samples) for i in items}


def needs_generation(c: Candidate, items: Sequence[SuiteItem], params: GenerationParams, cache: Path,
                     samples: int = 1) -> bool:
    """True when the model has stories to generate, or no stored measurement (it will load)."""
    done = cached_generations(cache, c.key)
    _, model_file = cache_paths(cache, c.key)
    return not model_file.is_file() or any(k not in done for k in sample_keys(c.key, items, params, samples).values())


def check_runnable(candidates: list[Candidate], items: list[SuiteItem], params: GenerationParams, cache: Path,
                    samples: int = 1) -> None:
    """Fail before generating anything when a model that still has work to do cannot run here."""
    missing, hub_missing = [], False
    for c in candidates:
        done = cached_generations(cache, c.key)
        if all(k in done for k in sample_keys(c.key, items, params, samples).values()):
            continue
        problem = c.model.availability()
        if problem:
            missing.append(f"{c.spec.label}: {problem}")
            hub_missing |= _needs_hub(c)
    if missing:
        hint = (
            ". The Hugging Face hub is not reachable from here, so weights must be local: pass a local model "
            "folder or .gguf file instead of the name, or define the model with source = \"/path\" in a models "
            "file (--models-file or ./evalkit.toml), or copy a Hugging Face cache (~/.cache/huggingface) that "
            "holds it onto this machine." if hub_missing else ""
        )
        raise WeightsMissing("cannot run " + "; ".join(missing) + hint)


def _needs_hub(c: Candidate) -> bool:
    """Whether the model names a hub id (not a local path) whose weights are not in the local cache: only
    then does the hub advice apply (a corrupt local file or a missing adapter has nothing to do with it)."""
    src = c.spec.options.get("source")
    if c.model.remote or not isinstance(src, str) or not src or looks_like_path(src) or Path(src).expanduser().exists():
        return False
    return hub_snapshot(src) is None


def generate_model(c: Candidate, mrun: ModelRun, suite: Suite, items: list[SuiteItem], params: GenerationParams,
               run_dir: Path, cache: Path, progress: RunProgress, samples: int = 1) -> None:
    """Write the stories of one model that the cache lacks (copying the cached ones into the run),
    measuring its load and peak memory; ``mrun`` (its manifest entry) is filled in as it goes."""
    gen_file, model_file = cache_paths(cache, c.key)
    done = cached_generations(cache, c.key)
    keys = sample_keys(c.key, items, params, samples)
    have = [done[keys[(i.id, k)]] for k in range(samples) for i in items if keys[(i.id, k)] in done]
    todo = [(i, k) for k in range(samples) for i in items if keys[(i.id, k)] not in done]
    # reuse: copy cached stories into this run under this run's label (and the sample their key says)
    sample_of = {v: k for (_, k), v in keys.items()}
    append_jsonl(run_dir / "generations.jsonl",
                 [r.model_copy(update={"model": c.spec.label, "sample": sample_of[r.key]}) for r in have])
    mrun.n_cached = len(have)
    progress.model_start(c.spec.label, len(items) * samples, len(have))
    cached_model = None
    if model_file.is_file():
        try:
            cached_model = CachedModel.model_validate(read_json(model_file))
        except Exception:
            cached_model = None
    if not todo and cached_model is not None:
        mrun.info, mrun.load_s, mrun.memory = cached_model.info, cached_model.load_s, cached_model.memory
        progress.model_done(c.spec.label)
        return

    tracker = MemoryTracker(remote=c.model.remote)
    tracker.start()
    t0 = time.perf_counter()
    c.model.load()
    mrun.load_s = time.perf_counter() - t0
    progress.model_loaded(c.spec.label, mrun.load_s)
    requests = {i.id: Request.from_item(suite, i) for i, _ in todo}
    # one sample at a time (its own seed), similar lengths batched together inside it
    todo.sort(key=lambda ik: (ik[1], len(requests[ik[0].id].plain_prompt)))
    gen_started = time.perf_counter()
    try:
        step = max(1, c.model.chunk_size(params))
        chunks = [[ik for ik in todo if ik[1] == k] for k in range(samples)]
        for chunk in (ch[s : s + step] for ch in chunks for s in range(0, len(ch), step)):
            k = chunk[0][1]
            sp = sample_params(params, k)
            t = time.perf_counter()
            gens = c.model.generate([requests[i.id] for i, _ in chunk], sp)
            if len(gens) != len(chunk):
                raise EvalkitError(f"backend {c.spec.backend} returned {len(gens)} stories for {len(chunk)} requests")
            recs = [
                GenerationRecord(key=keys[(i.id, k)], model=c.spec.label, model_key=c.key, item_id=i.id, seed=sp.seed,
                                 params_key=stable_hash(params.cache_fields()), text=g.text,
                                 prompt_tokens=g.prompt_tokens, completion_tokens=g.completion_tokens,
                                 latency_s=g.latency_s, ttft_s=g.ttft_s, batch_size=params.batch_size,
                                 error=g.error, extra=g.extra, sample=k)
                for (i, _), g in zip(chunk, gens)
            ]
            ok = [r for r in recs if r.error is None]
            append_jsonl(gen_file, ok)  # the cache never keeps failures: they are retried next time
            append_jsonl(run_dir / "generations.jsonl", recs)
            failed = [r.item_id for r in recs if r.error is not None]
            mrun.n_generated += len(ok)
            mrun.n_failed += len(failed)
            mrun.failed_items.extend(failed)
            mrun.oom_retries = max([mrun.oom_retries] + [int(r.extra.get("oom_retries", 0)) for r in recs])
            progress.advance(c.spec.label, len(chunk), sum(r.completion_tokens or 0 for r in ok), time.perf_counter() - t)
    finally:
        mrun.generate_s = time.perf_counter() - gen_started
        mrun.memory = tracker.stop()
        mrun.info = c.model.describe()
        c.model.close()
        write_json(model_file, CachedModel(model_key=c.key, info=mrun.info, load_s=mrun.load_s, memory=mrun.memory))
        progress.model_done(c.spec.label)
