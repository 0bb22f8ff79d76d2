"""The run: for each model, generate what is missing (appending each batch as soon as it exists),
measure, then hand the stored records to the scoring and rating stages.

Generations are cached per model fingerprint in <results>/.cache/, keyed by (model, suite item,
params, seed): a rerun, or a resume after Ctrl-C or kill -9, regenerates only what is missing and
needs no model load when nothing is missing. Every run gets its own folder, so two processes can
share one results folder.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit._version import __version__
from evalkit.errors import EvalkitError, WeightsMissing
from evalkit.measure import MemoryTracker, git_sha, hardware, library_versions
from evalkit.models.base import Model, ModelSpec, Request
from evalkit.models.registry import load_backend, resolve_model
from evalkit.records import (
    CachedModel,
    GenerationParams,
    GenerationRecord,
    Manifest,
    ModelRun,
    SuiteRef,
    append_jsonl,
    iter_jsonl,
    read_json,
    stable_hash,
    utcnow,
    write_json,
)
from evalkit.suites import Suite, SuiteItem, load_suite

CACHE_DIR = ".cache"


@dataclass
class Candidate:
    spec: ModelSpec
    model: Model
    key: str


def new_run_dir(results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        run_id = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        path = results_dir / run_id
        try:
            path.mkdir()  # exclusive: two processes never share a run folder
            return path
        except FileExistsError:
            continue
    raise EvalkitError(f"could not create a new run folder in {results_dir}")


def generation_key(model_key: str, item: SuiteItem, params: GenerationParams) -> str:
    return stable_hash({"model": model_key, "item": item.content_hash(), "params": params.cache_fields()}, 24)


def resolve_candidates(model_args: Sequence[str], models_file: str | Path | None = None,
                       overrides: dict[str, dict[str, Any]] | None = None) -> list[Candidate]:
    """Resolve every model argument, checking ``-o MODEL.KEY=VALUE`` overrides against the models given
    and the backend's typed options, and refusing one model named twice (also under two spellings)."""
    from evalkit.models.base import options_problem
    from evalkit.models.registry import load_presets

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


def run_compare(
    model_args: Sequence[str],
    suite: str | Path | Suite | None = None,
    split: str | None = None,
    results_dir: str | Path = "results",
    models_file: str | Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    params: dict[str, Any] | None = None,
    scorers: Sequence[str] | None = None,
    progress: RunProgress | None = None,
    score: bool = True,
    rate: bool = True,
    isolate: bool = False,
    samples: int | str | None = None,
    judge: str | None = None,
) -> Path:
    """Generate, measure, score and rate; returns the run folder. ``isolate``: each local model that
    loads generates in a fresh child process (evalkit.isolation), so its memory figure does not depend
    on the models before it (`evalkit compare` sets it). ``samples``: stories per item per model
    (default: the suite's [generation] samples, else 1). ``judge``: a model argument for the model that
    rates the stories and compares the models (default: ``model`` under the suite's [judge])."""
    from evalkit.sampling import parse_samples
    from evalkit.suites import default_suite_name

    progress = progress or RunProgress()
    suite_obj = suite if isinstance(suite, Suite) else load_suite(suite or default_suite_name())
    items = suite_obj.split(split or suite_obj.default_split)
    gen_params = _params(suite_obj, params)
    n_samples = (parse_samples(samples) if samples is not None
                 else parse_samples(suite_obj.generation.get("samples", 1), f"{suite_obj.name}: [generation] samples"))
    candidates = resolve_candidates(model_args, models_file, overrides)
    results_dir = Path(results_dir)
    cache = results_dir / CACHE_DIR
    judge_ref = _check_judge(judge, suite_obj, models_file)
    _check_runnable(candidates, items, gen_params, cache, n_samples)

    run_dir = new_run_dir(results_dir)
    manifest = Manifest(
        run_id=run_dir.name, evalkit_version=__version__, git_sha=git_sha(), python=sys.version.split()[0],
        libraries=library_versions(), hardware=hardware(),
        suite=SuiteRef(name=suite_obj.name, path=str(suite_obj.path.resolve()), hash=suite_obj.hash,
                       split=split or suite_obj.default_split, item_ids=[i.id for i in items]),
        params=gen_params, command=sys.argv[:], pid=os.getpid(), host=socket.gethostname(),
        models=[ModelRun(label=c.spec.label, spec=c.spec.to_dict(), model_key=c.key) for c in candidates],
    )
    manifest.scorers = list(scorers) if scorers else None
    manifest.samples = n_samples
    manifest.judge = judge_ref
    write_json(run_dir / "manifest.json", manifest)
    try:
        if isolate:
            from evalkit.isolation import run_model_isolated as run_model
        else:
            run_model = _run_model
        for c, mrun in zip(candidates, manifest.models):
            run_model(c, mrun, suite_obj, items, gen_params, run_dir, cache, progress, n_samples)
            mrun.training = c.model.training_record()
            write_json(run_dir / "manifest.json", manifest)
        manifest.hardware = hardware()  # torch is imported now: record the GPU if there is one
        manifest.status = "complete"
        manifest.finished = utcnow()
        write_json(run_dir / "manifest.json", manifest)
    except KeyboardInterrupt:
        _finish(manifest, run_dir, "interrupted")
        raise
    except BaseException:
        _finish(manifest, run_dir, "failed")
        raise
    if score:
        from evalkit.pipeline import RunContext, ensure_rated, ensure_reported, ensure_scored

        # one context for the stages: the manifest and suite held here, the scorers' models loaded once
        ctx = RunContext.load(run_dir, manifest=manifest, suite=suite_obj, scorer_names=scorers)
        progress.stage("scoring")
        ensure_scored(ctx, force=True)
        if rate:
            progress.stage("rating")
            ensure_reported(ctx, ensure_rated(ctx, force=True))
    return run_dir


def _check_judge(judge: str | None, suite: Suite, models_file: str | Path | None) -> Any:
    """The run's judge (JudgeRef), resolved and checked before any work; None without one. Loaded only
    in the scoring stage, so it holds no memory while the candidates generate."""
    if judge is None:
        table = (suite.config or {}).get("judge")
        judge = table.get("model") if isinstance(table, dict) and isinstance(table.get("model"), str) else None
    if not judge:
        return None
    from evalkit.judge.judge import check_judge

    return check_judge(judge, models_file)


def rate_and_report(run_dir: Path) -> None:
    """Rate a scored run and write its reports (the stages after scoring, as `compare` runs them)."""
    from evalkit.pipeline import RunContext, ensure_rated, ensure_reported

    ctx = RunContext.load(run_dir)
    ensure_reported(ctx, ensure_rated(ctx, force=True))


def _finish(manifest: Manifest, run_dir: Path, status: str) -> None:
    manifest.status = status  # type: ignore[assignment]
    manifest.finished = utcnow()
    try:
        write_json(run_dir / "manifest.json", manifest)
    except BaseException:
        pass


def _params(suite: Suite, overrides: dict[str, Any] | None) -> GenerationParams:
    from pydantic import ValidationError

    try:
        generation = {k: v for k, v in suite.generation.items() if k != "samples"}  # a run setting, not a sampler's
        return GenerationParams.model_validate({**generation, **(overrides or {})})
    except ValidationError as e:
        err = e.errors()[0]
        raise EvalkitError(f"bad generation parameter {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def _cache_paths(cache: Path, key: str) -> tuple[Path, Path]:
    return cache / "generations" / f"{key}.jsonl", cache / "models" / f"{key}.json"


def _cached(cache: Path, key: str) -> dict[str, GenerationRecord]:
    gen_file, _ = _cache_paths(cache, key)
    return {r.key: r for r in iter_jsonl(gen_file, GenerationRecord) if r.error is None}


def _sample_keys(model_key: str, items: list[SuiteItem], params: GenerationParams, samples: int) -> dict[tuple[str, int], str]:
    """(item id, sample) -> generation cache key; sample 0's key is generation_key's."""
    from evalkit.sampling import sample_generation_key

    return {(i.id, k): sample_generation_key(model_key, i, params, k) for k in range(samples) for i in items}


def _check_runnable(candidates: list[Candidate], items: list[SuiteItem], params: GenerationParams, cache: Path,
                    samples: int = 1) -> None:
    """Fail before generating anything when a model that still has work to do cannot run here."""
    missing, hub_missing = [], False
    for c in candidates:
        done = _cached(cache, c.key)
        if all(k in done for k in _sample_keys(c.key, items, params, samples).values()):
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
    from evalkit.models.registry import looks_like_path

    src = c.spec.options.get("source")
    if c.model.remote or not isinstance(src, str) or not src or looks_like_path(src) or Path(src).expanduser().exists():
        return False
    from evalkit.models.hf import hub_snapshot

    return hub_snapshot(src) is None


def _run_model(c: Candidate, mrun: ModelRun, suite: Suite, items: list[SuiteItem], params: GenerationParams,
               run_dir: Path, cache: Path, progress: RunProgress, samples: int = 1) -> None:
    from evalkit.sampling import sample_params

    gen_file, model_file = _cache_paths(cache, c.key)
    done = _cached(cache, c.key)
    keys = _sample_keys(c.key, items, params, samples)
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
