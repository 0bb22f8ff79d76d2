"""The compare run: resolve the candidates, open a run folder with its manifest, then the pipeline's
stages over one RunContext: generate (evalkit.generate, each local model in a child process with
``isolate``), score, rate, report. Every run gets its own folder, so two processes can share one
results folder; the caches under <results>/.cache make a rerun or a resume redo only what is missing.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit._version import __version__
from evalkit.capacity.engine import CapacitySettings
from evalkit.capacity.stage import check_measurable
from evalkit.errors import EvalkitError
from evalkit.generate import (
    CACHE_DIR,
    Candidate,
    RunProgress,
    check_runnable,
    generation_params,
    resolve_candidates,
)
from evalkit.judge.judge import check_judge
from evalkit.measure import git_sha, hardware, library_versions
from evalkit.pipeline import (
    RunContext,
    ensure_generated,
    ensure_measured,
    ensure_rated,
    ensure_reported,
    ensure_scored,
    judge_argument,
)
from evalkit.models.base import ModelSpec
from evalkit.records import GenerationParams, Manifest, ModelRun, SuiteRef, write_json
from evalkit.sampling import parse_samples
from evalkit.scorers.base import ScoringContext
from evalkit.scorers.judge import judge_defence
from evalkit.suites import Suite, default_suite_name, load_suite
from evalkit.threads import current as thread_policy


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
    random_weights: bool = False,
    memory_limit_gb: float | None = None,
    scoring_options: dict[str, Any] | None = None,
) -> Path:
    """Generate, measure, score and rate; returns the run folder. ``isolate``: each local model that
    loads generates in a fresh child process (evalkit.isolation), so its memory figure does not depend
    on the models before it (`evalkit compare` sets it). ``samples``: stories per item per model
    (default: the suite's [generation] samples, else 1). ``judge``: a model argument for the model that
    rates the stories and compares the models (default: ``model`` under the suite's [judge]).
    ``random_weights`` (or ``weights = "random"`` on every model): each model is measured at its real
    shape with random values instead (evalkit.capacity; no stories: they would be noise), and rated on
    speed, memory and training time; ``memory_limit_gb`` caps what a full build may use.
    ``scoring_options``: the ScoringContext options (``lm``: the reader and its calibration profile)."""
    progress = progress or RunProgress()
    suite_obj = suite if isinstance(suite, Suite) else load_suite(suite or default_suite_name())
    items = suite_obj.split(split or suite_obj.default_split)
    gen_params = generation_params(suite_obj, params)
    n_samples = (parse_samples(samples) if samples is not None
                 else parse_samples(suite_obj.generation.get("samples", 1), f"{suite_obj.name}: [generation] samples"))
    candidates = resolve_candidates(model_args, models_file, overrides)
    results_dir = Path(results_dir)
    specs = random_specs(candidates, random_weights)
    if specs is not None:
        if judge or scorers or samples is not None:
            raise EvalkitError("--random-weights measures speed and memory only: random weights write noise, so "
                               "there is nothing to score, judge or sample; drop --scorers, --judge and --samples")
        settings = CapacitySettings(batch_size=gen_params.batch_size, max_new_tokens=gen_params.max_new_tokens,
                                    split=split or suite_obj.default_split,
                                    memory_limit_bytes=int(memory_limit_gb * 1e9) if memory_limit_gb else None)
        return _run_random(specs, candidates, suite_obj, items, gen_params, settings, results_dir, progress, isolate)
    if memory_limit_gb is not None:
        raise EvalkitError("--memory-limit-gb applies to --random-weights runs only")
    cache = results_dir / CACHE_DIR
    # the judge is resolved and checked before any work, loaded only in the scoring stage (no memory
    # held while the candidates generate)
    judge_arg, _ = judge_argument(judge, None, suite_obj)
    judge_ref = check_judge(judge_arg, models_file) if judge_arg else None
    if judge_arg:
        judge_defence(ScoringContext(suite=suite_obj))  # an unknown [judge] injection mode, before any work
    check_runnable(candidates, items, gen_params, cache, n_samples)

    run_dir, manifest = _open_run(results_dir, suite_obj, split, items, gen_params, candidates,
                                  scorers, n_samples, judge_ref)
    # one context for the stages: the manifest and suite held here, the scorers' models loaded once
    ctx = RunContext.load(run_dir, manifest=manifest, suite=suite_obj, scorer_names=scorers,
                          scoring_options=scoring_options)
    ensure_generated(ctx, candidates, gen_params, items, cache, progress, isolate)
    if score:
        progress.stage("scoring")
        ensure_scored(ctx, force=True)
        if rate:
            progress.stage("rating")
            ensure_reported(ctx, ensure_rated(ctx, force=True))
    return run_dir


def random_specs(candidates: list[Candidate], asked: bool) -> list[ModelSpec] | None:
    """The candidates as random-weights specs, checked (None: a run with real weights). Asked for, or
    every model says ``weights = "random"``; a mix is refused (random weights write no stories)."""
    marked = [c.spec.label for c in candidates if c.spec.options.get("weights") == "random"]
    if not asked and not marked:
        return None
    if not asked and len(marked) < len(candidates):
        real = [c.spec.label for c in candidates if c.spec.label not in marked]
        raise EvalkitError(f"{', '.join(marked)}: weights = \"random\", but {', '.join(real)}: real weights; random "
                           "weights write no stories, so measure them in a run of their own (or add --random-weights)")
    return [check_measurable(c.spec) for c in candidates]


def _run_random(specs: list[ModelSpec], candidates: list[Candidate], suite: Suite, items: Any,
                gen_params: GenerationParams, settings: CapacitySettings, results_dir: Path, progress: RunProgress,
                isolate: bool) -> Path:
    run_candidates = [Candidate(s, c.model, c.key) for s, c in zip(specs, candidates)]
    run_dir, manifest = _open_run(results_dir, suite, settings.split, items, gen_params, run_candidates, None, 1, None)
    ctx = RunContext.load(run_dir, manifest=manifest, suite=suite)
    ensure_measured(ctx, specs, settings, results_dir, progress, isolate)
    progress.stage("rating")
    ensure_reported(ctx, ensure_rated(ctx, force=True))
    return run_dir


def _open_run(results_dir: Path, suite_obj: Suite, split: str | None, items: Any, gen_params: GenerationParams,
              candidates: list[Candidate], scorers: Sequence[str] | None, n_samples: int,
              judge_ref: Any) -> tuple[Path, Manifest]:
    run_dir = new_run_dir(results_dir)
    manifest = Manifest(
        run_id=run_dir.name, evalkit_version=__version__, git_sha=git_sha(), python=sys.version.split()[0],
        libraries=library_versions(), hardware=hardware(),
        suite=SuiteRef(name=suite_obj.name, path=str(suite_obj.path.resolve()), hash=suite_obj.hash,
                       split=split or suite_obj.default_split, item_ids=[i.id for i in items]),
        params=gen_params, command=sys.argv[:], pid=os.getpid(), host=socket.gethostname(),
        models=[ModelRun(label=c.spec.label, spec=c.spec.to_dict(), model_key=c.key) for c in candidates],
        scorers=list(scorers) if scorers else None, samples=n_samples, judge=judge_ref,
        threads=thread_policy().record(),
    )
    write_json(run_dir / "manifest.json", manifest)
    return run_dir, manifest
