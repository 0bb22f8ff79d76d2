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

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit.anchors import kind_metrics, score_anchors, wanted_kinds
from evalkit.calibration import star_sources
from evalkit.capacity.engine import CapacitySettings, measure_capacity
from evalkit.capacity.stage import find_training, measure_isolated
from evalkit.errors import EvalkitError, RecordError
from evalkit.generate import Candidate, RunProgress, generate_model
from evalkit.isolation import run_model_isolated
from evalkit.judge.run import JudgeRun, judge_stage, load_judge_run
from evalkit.measure import hardware
from evalkit.models.base import ModelSpec
from evalkit.plugins import SCORERS_GROUP, plugin_entry_points
from evalkit.rating import RatingConfig, StoredRun, load_rating_config, rate_stored
from evalkit.records import (
    RATING_SCHEMA,
    AnchorScores,
    CapacityRun,
    GenerationParams,
    GenerationRecord,
    Manifest,
    ModelInfo,
    Rating,
    ScoreRecord,
    Summary,
    load_manifest,
    random_weights_run,
    read_json,
    utcnow,
    write_json,
)
from evalkit.report import report_data, write_reports
from evalkit.score_cache import DEFAULT_SUBDIR, ScoreCache
from evalkit.scorers.base import Scorer, ScoringContext
from evalkit.scorers.judge import NO_JUDGE, judge_from_context
from evalkit.scorers.lm import choose_scoring_lm
from evalkit.scoring import (
    SPEED_METRICS,
    load_generations,
    load_scorers,
    load_scores,
    describe_missing,
    missing_names,
    missing_stories,
    rerun_hint,
    score_generations,
)
from evalkit.suites import Suite, SuiteItem, find_run_suite


CAPACITY_FILE = "capacity.json"


def judge_argument(judge: str | None, manifest: Manifest | None, suite: Suite | None) -> tuple[str | None, str | None]:
    """(judge model argument, models file) of a run: the one given, else the judge the manifest records,
    else ``model`` under the suite's [judge]; (None, None) without a judge."""
    if judge is not None:  # given ("" turns the judge off)
        return judge or None, None
    if manifest is not None and manifest.judge is not None:
        return manifest.judge.model, manifest.judge.models_file
    table = (suite.config or {}).get("judge") if suite is not None else None
    model = table.get("model") if isinstance(table, dict) and isinstance(table.get("model"), str) else None
    return model or None, None


@dataclass
class RunContext:
    run_dir: Path
    manifest: Manifest
    suite: Suite | None  # the suite version the run was generated on (None when it changed or is gone)
    config_suite: Suite | None  # the suite whose [rating] applies: that version, else the suite of that name now
    scorer_names: list[str] | None = None
    device: str | None = None
    use_score_cache: bool = True  # False: score everything afresh (nothing read from or added to the cache)
    allow_missing: bool = False  # report --allow-missing: score and report a run that lost stories, saying which
    scoring_options: dict[str, Any] | None = None  # ScoringContext options (lm.path, lm.alternatives, ...)
    judge: str | None = None  # the judge model argument (--judge, the manifest's judge, or the suite's [judge])
    models_file: str | None = None  # what the judge argument is resolved with

    @classmethod
    def load(cls, run_dir: str | Path, manifest: Manifest | None = None, suite: Suite | None = None,
             scorer_names: Sequence[str] | None = None, device: str | None = None,
             scoring_options: dict[str, Any] | None = None, judge: str | None = None,
             models_file: str | Path | None = None) -> RunContext:
        """The context of a run folder; pass what the caller already holds (the runner holds both).
        ``judge``: a judge model argument; default the judge the manifest records, else the suite's."""
        run_dir = Path(run_dir)
        manifest = manifest or load_manifest(run_dir)
        if suite is not None and suite.hash == manifest.suite.hash:
            exact = found = suite
        else:
            exact, found = find_run_suite(manifest.suite.path, manifest.suite.name, manifest.suite.hash)
        names = list(scorer_names) if scorer_names else manifest.scorers
        judge_arg, judge_file = judge_argument(judge, manifest, exact)
        if judge is not None and models_file is not None:
            judge_file = str(models_file)
        return cls(run_dir, manifest, exact, found, names, device, scoring_options=scoring_options,
                   judge=judge_arg, models_file=judge_file)

    @cached_property
    def scorers(self) -> list[Scorer]:
        scorers = load_scorers(self.scorer_names)
        if self.judge and not any(s.name == "judge" for s in scorers):
            scorers += load_scorers(["judge"])  # opt-in: a judge given means its scorer runs
        return scorers

    @cached_property
    def scoring(self) -> ScoringContext:
        """The one ScoringContext of this run: the run's stories and the anchors share its models."""
        options = dict(self.scoring_options or {})
        suite_lm = ((self.suite.config.get("scoring") or {}).get("lm") if self.suite is not None else None)
        if "lm" not in options and isinstance(suite_lm, dict):  # suite.toml [scoring.lm] path / alternatives
            options["lm"] = dict(suite_lm)
        if any(getattr(s, "uses_lm", False) for s in self.scorers):
            options["lm"] = self._choose_lm(options.get("lm"))
        if self.judge:  # judge calls are cached beside the generations: <results>/.cache/judge/
            options.update({"judge": self.judge, "models_file": self.models_file,
                            "judge_cache_dir": self.run_dir.parent / ".cache"})
        return ScoringContext(suite=self.suite, device=self.device, options=options)

    @cached_property
    def score_cache(self) -> ScoreCache | None:
        """The score cache the run's stories and anchors are scored through (evalkit.score_cache), in
        the results folder beside the generation cache: <results>/.cache/scores; None when disabled."""
        return ScoreCache(self.run_dir.parent / DEFAULT_SUBDIR) if self.use_score_cache else None

    def _choose_lm(self, lm: dict[str, Any] | None) -> dict[str, Any]:
        """A scorer must not grade its own model's text: the scoring LM is one no candidate is built on
        (or, when none is left, the run says so). The manifest records which LM scored."""
        try:
            info, chosen = choose_scoring_lm([(m.label, m.spec) for m in self.manifest.models], lm)
        except EvalkitError as e:  # coherence then marks its stories not scorable, with the reason
            sys.stderr.write(f"warning: {e}\n")
            return {k: v for k, v in (lm or {}).items() if k != "alternatives"}
        if info.warning:
            sys.stderr.write(f"warning: {info.warning}\n")
        if self.manifest.scoring_lm != info:
            self.manifest.scoring_lm = info
            write_json(self.run_dir / "manifest.json", self.manifest)
        return chosen

    def suite_problem(self) -> str:
        why = "changed since the run" if self.config_suite is not None else "was not found"
        return f"suite {self.manifest.suite.name!r} {why}"

    def rating_config(self, previous: Rating | None = None) -> RatingConfig:
        """The suite's [rating] rules (the suite of that name when the run's version is gone), else the
        rules stored in an earlier rating of this run."""
        if self.config_suite is not None:
            return load_rating_config(self.config_suite.config, str(self.config_suite.path / "suite.toml"))
        return load_rating_config({"rating": previous.rules if previous is not None else {}}, "rating.json rules")

    # stored stage records, read at most once; a stage that writes one keeps it here for the next
    @cached_property
    def summary(self) -> Summary | None:
        path = self.run_dir / "summary.json"
        if not path.exists():
            return None
        try:
            return Summary.model_validate(read_json(path))
        except ValidationError as e:
            raise RecordError(f"{path}: not an evalkit summary ({e.error_count()} problem(s)); rescore the run") from None

    @cached_property
    def _scores_read(self) -> tuple[list[ScoreRecord], list[str]]:
        problems: list[str] = []
        return load_scores(self.run_dir, problems), problems

    @property
    def scores(self) -> list[ScoreRecord]:
        return self._scores_read[0]

    @property
    def score_problems(self) -> list[str]:
        """Damaged scores.jsonl lines skipped."""
        return self._scores_read[1]

    @cached_property
    def _generations_read(self) -> tuple[list[GenerationRecord], list[str]]:
        problems: list[str] = []
        return load_generations(self.run_dir, problems), problems

    @property
    def generations(self) -> list[GenerationRecord]:
        return self._generations_read[0]

    @property
    def generation_problems(self) -> list[str]:
        """Damaged generations.jsonl lines skipped."""
        return self._generations_read[1]

    @cached_property
    def anchors(self) -> AnchorScores | None:
        """anchors.json when it belongs to this run's suite version and split (damaged: None, rebuilt)."""
        path = self.run_dir / "anchors.json"
        if not path.exists():
            return None
        try:
            record = AnchorScores.model_validate(read_json(path))
        except (RecordError, ValidationError):
            return None  # damaged: rebuilt from the suite when it is there
        if record.suite_hash != self.manifest.suite.hash or record.split != self.manifest.suite.split:
            return None
        return record

    @cached_property
    def rating(self) -> Rating | None:
        """rating.json (None when missing); a file that is not an evalkit rating is an error."""
        path = self.run_dir / "rating.json"
        if not path.exists():
            return None
        data = read_json(path)
        try:
            if not isinstance(data, dict) or data.get("schema") != RATING_SCHEMA:
                raise ValueError
            return Rating.model_validate(data)
        except (ValueError, ValidationError):
            raise EvalkitError(f"{path}: not an evalkit rating (rebuild it: delete it and rerun)") from None

    @cached_property
    def capacity(self) -> CapacityRun | None:
        """capacity.json of a random-weights run (None: not one, or nothing measured yet)."""
        path = self.run_dir / CAPACITY_FILE
        if not path.exists():
            return None
        try:
            return CapacityRun.model_validate(read_json(path))
        except ValidationError as e:
            raise RecordError(f"{path}: not an evalkit capacity record ({e.error_count()} problem(s))") from None

    @cached_property
    def judge_run(self) -> JudgeRun | None:
        """judge.json (None: no judge, or damaged)."""
        return load_judge_run(self.run_dir)

    def previous_rating(self) -> Rating | None:
        """The stored rating when it rated this very run, suite version and split (its anchors, rules
        and creation time are kept by a rebuild); a damaged one is ignored."""
        try:
            old = self.rating
        except (EvalkitError, RecordError):
            return None
        same = (old is not None and old.run_id == self.manifest.run_id and old.suite_hash == self.manifest.suite.hash
                and old.split == self.manifest.suite.split)
        return old if same else None

    def keep(self, *, summary: Summary | None = None, scores: list[ScoreRecord] | None = None,
             anchors: AnchorScores | None = None, rating: Rating | None = None, judge_run: JudgeRun | None = None) -> None:
        """What a stage just wrote, so the next stage reads it from here, not from the file."""
        kept = {"summary": summary, "_scores_read": None if scores is None else (scores, []), "anchors": anchors,
                "rating": rating, "judge_run": judge_run}
        self.__dict__.update({k: v for k, v in kept.items() if v is not None})

    def forget_generations(self) -> None:
        """generations.jsonl grew: read it afresh next time."""
        self.__dict__.pop("_generations_read", None)

    def metric_info(self, metrics: Sequence[str]) -> dict[str, dict[str, Any]]:
        """summary.json's metric table (with the speed metrics), completed from the installed scorers'
        classes for any of ``metrics`` it lacks (a scorer not installed leaves its rows n/a)."""
        def row(m: Any) -> dict[str, Any]:
            return {"direction": m.direction, "low": m.low, "high": m.high, "description": m.description}

        info = {m.name: row(m) for m in SPEED_METRICS}
        if self.summary is not None:
            info.update({k: v.model_dump() for k, v in self.summary.metrics.items()})
        if set(metrics) - set(info):
            for scorer in _installed_scorer_classes():
                info.update({m.name: row(m) for m in scorer.metrics if m.name not in info})
        return info


def _installed_scorer_classes() -> list[Any]:
    out = []
    for ep in plugin_entry_points(SCORERS_GROUP).values():
        try:
            out.append(ep.load())
        except Exception:  # a scorer not installed or not written yet: its rows stay n/a
            continue
    return out


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
    run = StoredRun(ctx.manifest, ctx.scores, ctx.summary, anchors, ctx.metric_info(scored),
                    star_sources(scored, ctx.config_suite), ctx.judge_run, list(ctx.score_problems))
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
