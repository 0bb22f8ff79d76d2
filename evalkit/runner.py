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
from evalkit.errors import EvalkitError
from evalkit.generate import (
    CACHE_DIR,
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
    ensure_rated,
    ensure_reported,
    ensure_scored,
    judge_argument,
)
from evalkit.records import Manifest, ModelRun, SuiteRef, write_json
from evalkit.sampling import parse_samples
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
) -> Path:
    """Generate, measure, score and rate; returns the run folder. ``isolate``: each local model that
    loads generates in a fresh child process (evalkit.isolation), so its memory figure does not depend
    on the models before it (`evalkit compare` sets it). ``samples``: stories per item per model
    (default: the suite's [generation] samples, else 1). ``judge``: a model argument for the model that
    rates the stories and compares the models (default: ``model`` under the suite's [judge])."""
    progress = progress or RunProgress()
    suite_obj = suite if isinstance(suite, Suite) else load_suite(suite or default_suite_name())
    items = suite_obj.split(split or suite_obj.default_split)
    gen_params = generation_params(suite_obj, params)
    n_samples = (parse_samples(samples) if samples is not None
                 else parse_samples(suite_obj.generation.get("samples", 1), f"{suite_obj.name}: [generation] samples"))
    candidates = resolve_candidates(model_args, models_file, overrides)
    results_dir = Path(results_dir)
    cache = results_dir / CACHE_DIR
    # the judge is resolved and checked before any work, loaded only in the scoring stage (no memory
    # held while the candidates generate)
    judge_arg, _ = judge_argument(judge, None, suite_obj)
    judge_ref = check_judge(judge_arg, models_file) if judge_arg else None
    check_runnable(candidates, items, gen_params, cache, n_samples)

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
    # one context for the stages: the manifest and suite held here, the scorers' models loaded once
    ctx = RunContext.load(run_dir, manifest=manifest, suite=suite_obj, scorer_names=scorers)
    ensure_generated(ctx, candidates, gen_params, items, cache, progress, isolate)
    if score:
        progress.stage("scoring")
        ensure_scored(ctx, force=True)
        if rate:
            progress.stage("rating")
            ensure_reported(ctx, ensure_rated(ctx, force=True))
    return run_dir
