"""The stages of a run over one RunContext, each computed once and read by the next:
generate -> score (with the anchors and the judge) -> rate -> report.

A RunContext holds what every stage needs, loaded once per run: the manifest, the suite version the run
was generated on, the scorers and one ScoringContext (so the scoring LM and the embedder load once), and
the stored stage records, read at most once as typed records (``summary``, ``scores``, ``anchors``,
``rating``, ``judge_run``). ``ensure_generated`` writes generations.jsonl; ``ensure_scored`` writes
scores.jsonl, summary.json and anchors.json (the suite's reference and degenerate stories, scored with the
same context), both through the score cache (<results>/.cache/scores), so a story or anchor scored once by
a scorer version is never scored again; ``ensure_rated`` turns stored records into rating.json (numbers
only: no scorer, no model); ``ensure_reported`` writes report.md/html. Each ``ensure_*`` reuses its stored
output unless told to rebuild it, and keeps what it made in the context for the next stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from evalkit.anchors import kind_metrics, score_anchors, wanted_kinds
from evalkit.calibration import star_sources
from evalkit.profiles import with_profile_source
from evalkit.capacity.engine import CapacitySettings, measure_capacity
from evalkit.capacity.stage import find_training, measure_isolated
from evalkit.errors import EvalkitError, RecordError
from evalkit.generate import Candidate, RunProgress, generate_model
from evalkit.isolation import run_model_isolated
from evalkit.judge.run import JudgeRun, judge_stage
from evalkit.measure import hardware
from evalkit.models.base import ModelSpec
from evalkit.rating import StoredRun, rate_stored
from evalkit.records import (
    AnchorScores,
    CapacityRun,
    GenerationParams,
    ModelInfo,
    Rating,
    Summary,
    random_weights_run,
    utcnow,
    write_json,
)
from evalkit.report import report_data, write_reports
from evalkit.run_context import CAPACITY_FILE, RunContext, judge_argument
from evalkit.scorers.judge import NO_JUDGE, judge_from_context
from evalkit.scoring import (
    describe_missing,
    missing_names,
    missing_stories,
    rerun_hint,
    score_generations,
)
from evalkit.suites import SuiteItem

__all__ = ["CAPACITY_FILE", "RunContext", "judge_argument"]  # re-exported: the stages' callers import them from here


def ensure_generated(ctx: RunContext, candidates: Sequence[Candidate], params: GenerationParams,
                     items: Sequence[SuiteItem], cache: Path, progress: RunProgress | None = None,
                     isolate: bool = False) -> None:
    """generations.jsonl of the run: each candidate writes what the cache lacks (``isolate``: each local
    model that loads does so in a fresh child process, evalkit.isolation), the manifest updated after
    each model and marked complete, interrupted or failed."""
    manifest, progress = ctx.manifest, progress or RunProgress()
    run_model = run_model_isolated if isolate else generate_model
    with _run_status(ctx):
        for c, mrun in zip(candidates, manifest.models):
            run_model(c, mrun, ctx.suite, list(items), params, ctx.run_dir, cache, progress, manifest.samples)
            mrun.training = c.model.training_record()
            write_json(ctx.run_dir / "manifest.json", manifest)
    ctx.forget_generations()


def ensure_measured(ctx: RunContext, specs: Sequence[ModelSpec], settings: CapacitySettings, results_dir: Path,
                    progress: RunProgress | None = None, isolate: bool = False) -> CapacityRun:
    """capacity.json of a random-weights run: each model measured at its real shape (``isolate``: in a
    fresh child process), its training projection looked up in ``results_dir``; written after each model,
    with the manifest (load time, peak memory, what was built), so a failure keeps what was measured."""
    if ctx.suite is None:
        raise EvalkitError(f"{ctx.suite_problem()}: measure it with the suite version it was started on")
    progress = progress or RunProgress()
    run = ctx.capacity or CapacityRun()
    measure = measure_isolated if isolate else measure_capacity
    with _run_status(ctx):
        for spec, mrun in zip(specs, ctx.manifest.models):
            if spec.label not in run.models:
                progress.stage(f"measuring {spec.label} at its real shape with random weights")
                rec = measure(spec, ctx.suite, settings)
                run.models[spec.label] = rec
                mrun.load_s, mrun.memory = rec.load_s.value, rec.memory.peak
                mrun.info = ModelInfo(name=spec.label, backend=spec.backend, source=rec.source,
                                      parameters=rec.parameters, dtype=rec.dtype, quantization=rec.quantization,
                                      device=rec.device, extra={"weights": "random (real shape, random values)",
                                                                "basis": rec.basis})
            training, searched = find_training(results_dir, spec.label)
            if training is not None:
                run.training[spec.label] = training
                run.training_searched.pop(spec.label, None)
            else:
                run.training.pop(spec.label, None)
                run.training_searched[spec.label] = searched
            write_json(ctx.run_dir / CAPACITY_FILE, run)
            write_json(ctx.run_dir / "manifest.json", ctx.manifest)
    ctx.__dict__["capacity"] = run
    return run


@contextmanager
def _run_status(ctx: RunContext) -> Iterator[None]:
    """The manifest marked complete when the stage inside ends, else interrupted or failed."""
    try:
        yield
        ctx.manifest.hardware = hardware()  # torch is imported now: record the GPU if there is one
        _finish(ctx, "complete")
    except KeyboardInterrupt:
        _finish(ctx, "interrupted", quiet=True)
        raise
    except BaseException:
        _finish(ctx, "failed", quiet=True)
        raise


def _finish(ctx: RunContext, status: str, quiet: bool = False) -> None:
    ctx.manifest.status = status  # type: ignore[assignment]
    ctx.manifest.finished = utcnow()
    try:
        write_json(ctx.run_dir / "manifest.json", ctx.manifest)
    except BaseException:
        if not quiet:
            raise


def is_scored(run_dir: Path) -> bool:
    return (run_dir / "scores.jsonl").exists() and (run_dir / "summary.json").exists()


def ensure_scored(ctx: RunContext, force: bool = False, progress: Callable[[str, int], None] | None = None) -> Summary:
    """scores.jsonl, summary.json and anchors.json of the run; scored now when missing or ``force``."""
    if force or not is_scored(ctx.run_dir):
        if ctx.suite is None:
            found, m = ctx.config_suite, ctx.manifest
            why = f"changed since run {m.run_id} (hash {found.hash} != {m.suite.hash})" if found else "was not found"
            raise EvalkitError(f"suite {m.suite.name!r} {why}: score it with the suite version it was generated on")
        summary, records = score_generations(ctx.run_dir, ctx.manifest, ctx.suite, ctx.generations,
                                             list(ctx.generation_problems), ctx.scorers, ctx.scoring, ctx.score_cache,
                                             progress, allow_missing=ctx.allow_missing)
        ctx.keep(summary=summary, scores=records)
        if ctx.judge:
            ensure_judged(ctx, force=True)
    ensure_anchors(ctx, force=force)
    summary = ctx.summary
    if summary is None:
        raise RecordError(f"{ctx.run_dir / 'summary.json'}: missing")
    return summary


def ensure_judged(ctx: RunContext, force: bool = False) -> JudgeRun | None:
    """judge.json of a run that has a judge (pairwise preferences, consistency report), and the judge in
    the manifest; computed when missing or ``force``. None when the run has no judge."""
    if not ctx.judge:
        return None
    if not force and ctx.judge_run is not None:
        return ctx.judge_run
    if ctx.suite is None:
        raise EvalkitError(f"{ctx.suite_problem()}: the judge needs the suite version the run was generated on")
    judge = judge_from_context(ctx.scoring)
    try:
        record = judge_stage(ctx.run_dir, ctx.manifest, ctx.suite, judge, ctx.generations, ctx.scores,
                             ctx.rating_config().quality, NO_JUDGE)
    finally:  # the judge's weights are not needed by any later stage
        judge.close()
        ctx.scoring.shared.pop("judge", None)
    ctx.manifest.judge = record.judge
    write_json(ctx.run_dir / "manifest.json", ctx.manifest)
    ctx.keep(judge_run=record)
    return record


def ensure_anchors(ctx: RunContext, force: bool = False) -> AnchorScores | None:
    """anchors.json of the run, scored with the run's context when missing, stale or lacking a
    degenerate kind the rules now ask for; None when the run's suite version is gone."""
    stored = ctx.anchors
    if ctx.suite is None:
        return stored
    cfg = ctx.rating_config()
    quality = sorted(set(cfg.quality.values()))
    kinds = wanted_kinds(quality, cfg.anchors)
    wanted = kind_metrics(quality, cfg.anchors)
    if (stored is not None and not force and set(kinds) <= set(stored.kinds) and stored.per_item is not None
            and _has_levels(stored, wanted)):
        return stored
    scorers = [s for s in ctx.scorers if {m.name for m in s.metrics} & set(quality)]
    ids = set(ctx.manifest.suite.item_ids)
    items = [i for i in ctx.suite.items if i.id in ids]
    # through the score cache: a suite version's anchors are scored once, whatever run asks for them
    record = score_anchors(items, ctx.suite.items, kinds, scorers, ctx.scoring, ctx.suite.hash, ctx.manifest.suite.split,
                           cache=ctx.score_cache, wanted=wanted)
    write_json(ctx.run_dir / "anchors.json", record)
    ctx.keep(anchors=record)
    return record


def _has_levels(stored: AnchorScores, wanted: dict[str, list[str]]) -> bool:
    """Whether the stored anchors hold every metric the rules now average each kind for (a kind scored
    only for other metrics lacks it: score again, through the cache). Metrics the references lack were
    not scored by this run's scorers at all: nothing to add."""
    return all(m in stored.degenerate[k] for k, ms in wanted.items() if k in stored.degenerate
               for m in ms if m in stored.references)


def ensure_rated(ctx: RunContext, force: bool = False) -> Rating:
    """rating.json of the run, rebuilt from the stored records when missing or ``force``."""
    if not force and ctx.rating is not None:
        return ctx.rating
    if random_weights_run(ctx.manifest):
        return _rate_capacity(ctx)
    if not (ctx.run_dir / "scores.jsonl").exists():
        raise EvalkitError(f"run {ctx.manifest.run_id} has no scores.jsonl: score it before rating it")
    anchors = ensure_anchors(ctx)
    previous = ctx.previous_rating()
    cfg = ctx.rating_config(previous)
    labels = {m.label for m in ctx.manifest.models}
    scored = sorted({m for m in cfg.quality.values()
                     if any(r.scores.get(m) is not None for r in ctx.scores if r.model in labels)})
    sources = with_profile_source(star_sources(scored, ctx.config_suite), ctx.manifest.scoring_lm)
    run = StoredRun(ctx.manifest, ctx.scores, ctx.summary, anchors, ctx.metric_info(scored), sources, ctx.judge_run,
                    list(ctx.score_problems))
    rating = rate_stored(run, cfg, previous, None if ctx.suite is not None else ctx.suite_problem())
    write_json(ctx.run_dir / "rating.json", rating)
    ctx.keep(rating=rating)
    return rating


def _rate_capacity(ctx: RunContext) -> Rating:
    """rating.json of a random-weights run: speed, memory and training time from capacity.json, the
    quality rows n/a (no stories were written: random weights write noise)."""
    if ctx.capacity is None:
        raise EvalkitError(f"run {ctx.manifest.run_id} has no {CAPACITY_FILE}: nothing was measured")
    previous = ctx.previous_rating()
    run = StoredRun(ctx.manifest, [], None, None, ctx.metric_info([]), capacity=ctx.capacity)
    rating = rate_stored(run, ctx.rating_config(previous), previous)
    write_json(ctx.run_dir / "rating.json", rating)
    ctx.keep(rating=rating)
    return rating


def ensure_reported(ctx: RunContext, rating: Rating | None = None) -> tuple[Path, Path]:
    """report.md and report.html of the run (always rewritten: they are cheap and pure)."""
    rating = rating if rating is not None else ensure_rated(ctx)
    return write_reports(ctx.run_dir, report_data(ctx.manifest, ctx.suite, rating, ctx.generations, ctx.scores,
                                                  ctx.judge_run, ctx.capacity))


def check_lost(ctx: RunContext) -> None:
    """EvalkitError naming the stories a scored run's generations lost, unless ``ctx.allow_missing``.
    An interrupted run without damaged lines simply has fewer stories (its reports list them)."""
    lost = missing_stories(ctx.manifest, ctx.generations)
    damaged = ctx.generation_problems
    if not lost or ctx.allow_missing or not is_scored(ctx.run_dir) or (not damaged and ctx.manifest.status != "complete"):
        return
    n = sum(map(len, lost.values()))
    where = damaged[0].replace(": skipped a damaged line (", ": damaged line (", 1) + ": " if damaged else ""
    raise EvalkitError(
        f"{where}run {ctx.manifest.run_id} lost {n} stor{'y' if n == 1 else 'ies'} from generations.jsonl "
        f"({missing_names(lost, 8)}); "
        f"rerun {rerun_hint(ctx.manifest)} (a new run that reuses every cached story and generates only the "
        "missing ones), or pass --allow-missing to report the rest without them")


def score_run(run_dir: str | Path, scorer_names: Sequence[str] | None = None, device: str | None = None,
              progress: Callable[[str, int], None] | None = None) -> Summary:
    """Score every stored generation of a run (and the suite's anchors); write scores.jsonl,
    summary.json and anchors.json; return the summary."""
    return ensure_scored(RunContext.load(run_dir, scorer_names=scorer_names, device=device), force=True,
                         progress=progress)


def rate_run(run_dir: str | Path) -> Rating:
    """Rate a scored run (rebuilding rating.json); anchors are scored first only when none are stored."""
    return ensure_rated(RunContext.load(run_dir), force=True)


def report_run(run_dir: str | Path, rerate: bool = False,
               on_scoring: Callable[[str], None] | None = None, allow_missing: bool = False,
               on_missing: Callable[[str], None] | None = None) -> tuple[Rating, Path, Path]:
    """What `evalkit report` does: score stored stories when the run has none scored, rate when
    rating.json is missing (or ``rerate``), then write both reports. A run whose generations lost
    stories (damaged lines, or a complete run without them) stops with exit 2 naming them, unless
    ``allow_missing``: then the rest is reported, the reports list the missing stories and
    ``on_missing`` hears the same line."""
    ctx = RunContext.load(run_dir)
    ctx.allow_missing = allow_missing
    random_weights = random_weights_run(ctx.manifest)  # measured, never generated: no stories to lose
    if not random_weights:
        check_lost(ctx)
        lost = missing_stories(ctx.manifest, ctx.generations)
        if lost and on_missing:
            on_missing(describe_missing(lost))
    if not is_scored(ctx.run_dir) and not random_weights:
        if not (ctx.run_dir / "generations.jsonl").exists():
            raise EvalkitError(f"run {ctx.manifest.run_id} has no generations yet: nothing to report")
        if on_scoring:
            on_scoring(ctx.manifest.run_id)
        ensure_scored(ctx)
    rating = ensure_rated(ctx, force=rerate)
    md, html = ensure_reported(ctx, rating)
    return rating, md, html
