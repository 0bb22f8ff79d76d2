"""The stages after generation, each computed once and read by the next: score -> rate -> report.

A RunContext holds what every stage needs, loaded once per run: the manifest, the suite version the run
was generated on, the scorers and one ScoringContext (so the scoring LM and the embedder load once), and
the stage outputs already read. ``ensure_scored`` writes scores.jsonl, summary.json and anchors.json (the
suite's reference and degenerate stories, scored with the same context), both through the score cache
(<results>/.cache/scores), so a story or anchor scored once by a scorer version is never scored again; ``ensure_rated`` turns stored
records into rating.json (numbers only: no scorer, no model); ``ensure_reported`` writes report.md/html.
Each ``ensure_*`` reuses its stored output unless told to rebuild it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.records import Manifest


@dataclass
class RunContext:
    run_dir: Path
    manifest: Manifest
    suite: Any  # the suite version the run was generated on (None when it changed or is gone)
    config_suite: Any  # the suite whose [rating] applies: that version, else the suite of that name now
    scorer_names: list[str] | None = None
    device: str | None = None
    use_score_cache: bool = True  # False: score everything afresh (nothing read from or added to the cache)
    scoring_options: dict[str, Any] | None = None  # ScoringContext options (lm.path, lm.alternatives, ...)
    judge: str | None = None  # the judge model argument (--judge, the manifest's judge, or the suite's [judge])
    models_file: str | None = None  # what the judge argument is resolved with
    _scorers: list[Any] | None = field(default=None, repr=False)
    _scoring: Any = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, run_dir: str | Path, manifest: Manifest | None = None, suite: Any = None,
             scorer_names: Sequence[str] | None = None, device: str | None = None,
             scoring_options: dict[str, Any] | None = None, judge: str | None = None,
             models_file: str | Path | None = None) -> RunContext:
        """The context of a run folder; pass what the caller already holds (the runner holds both).
        ``judge``: a judge model argument; default the judge the manifest records, else the suite's."""
        from evalkit.records import load_manifest
        from evalkit.suites import find_run_suite

        run_dir = Path(run_dir)
        manifest = manifest or load_manifest(run_dir)
        if suite is not None and suite.hash == manifest.suite.hash:
            exact = found = suite
        else:
            exact, found = find_run_suite(manifest.suite.path, manifest.suite.name, manifest.suite.hash)
        names = list(scorer_names) if scorer_names else manifest.scorers
        if judge is None and manifest.judge is not None:
            judge, models_file = manifest.judge.model, manifest.judge.models_file
        if judge is None and exact is not None:
            table = (exact.config or {}).get("judge")
            judge = table.get("model") if isinstance(table, dict) and isinstance(table.get("model"), str) else None
        return cls(run_dir, manifest, exact, found, names, device, scoring_options=scoring_options,
                   judge=judge or None, models_file=None if models_file is None else str(models_file))

    @property
    def scorers(self) -> list[Any]:
        if self._scorers is None:
            from evalkit.scoring import load_scorers

            self._scorers = load_scorers(self.scorer_names)
            if self.judge and not any(s.name == "judge" for s in self._scorers):
                self._scorers += load_scorers(["judge"])  # opt-in: a judge given means its scorer runs
        return self._scorers

    @property
    def scoring(self) -> Any:
        """The one ScoringContext of this run: the run's stories and the anchors share its models."""
        if self._scoring is None:
            from evalkit.scorers.base import ScoringContext

            options = dict(self.scoring_options or {})
            suite_lm = ((self.suite.config.get("scoring") or {}).get("lm") if self.suite is not None else None)
            if "lm" not in options and isinstance(suite_lm, dict):  # suite.toml [scoring.lm] path / alternatives
                options["lm"] = dict(suite_lm)
            if any(getattr(s, "uses_lm", False) for s in self.scorers):
                options["lm"] = self._choose_lm(options.get("lm"))
            if self.judge:  # judge calls are cached beside the generations: <results>/.cache/judge/
                options.update({"judge": self.judge, "models_file": self.models_file,
                                "judge_cache_dir": self.run_dir.parent / ".cache"})
            self._scoring = ScoringContext(suite=self.suite, device=self.device, options=options)
        return self._scoring

    @property
    def score_cache(self) -> Any:
        """The score cache the run's stories and anchors are scored through (evalkit.score_cache), in
        the results folder beside the generation cache: <results>/.cache/scores; None when disabled."""
        if not self.use_score_cache:
            return None
        if "score_cache" not in self._cache:
            from evalkit.score_cache import DEFAULT_SUBDIR, ScoreCache

            self._cache["score_cache"] = ScoreCache(self.run_dir.parent / DEFAULT_SUBDIR)
        return self._cache["score_cache"]

    def _choose_lm(self, lm: dict[str, Any] | None) -> dict[str, Any]:
        """A scorer must not grade its own model's text: the scoring LM is one no candidate is built on
        (or, when none is left, the run says so). The manifest records which LM scored."""
        import sys

        from evalkit.records import write_json
        from evalkit.scorers.lm import choose_scoring_lm

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

    def rating_config(self, previous: dict[str, Any] | None = None) -> Any:
        """The suite's [rating] rules (the suite of that name when the run's version is gone), else the
        rules stored in an earlier rating of this run."""
        from evalkit.rating import load_rating_config

        if self.config_suite is not None:
            return load_rating_config(self.config_suite.config, str(self.config_suite.path / "suite.toml"))
        return load_rating_config({"rating": (previous or {}).get("rules") or {}}, "rating.json rules")

    # stored stage outputs, read at most once
    def summary(self) -> dict[str, Any]:
        if "summary" not in self._cache:
            from evalkit.records import read_json

            path = self.run_dir / "summary.json"
            self._cache["summary"] = read_json(path) if path.exists() else {}
        return self._cache["summary"]

    def scores(self, problems: list[str] | None = None) -> list[Any]:
        if "scores" not in self._cache:
            from evalkit.scoring import load_scores

            found: list[str] = []
            self._cache["scores"] = (load_scores(self.run_dir, found), found)
        records, found = self._cache["scores"]
        if problems is not None:
            problems.extend(found)
        return records

    def generations(self, problems: list[str] | None = None) -> list[Any]:
        if "generations" not in self._cache:
            from evalkit.scoring import load_generations

            found: list[str] = []
            self._cache["generations"] = (load_generations(self.run_dir, found), found)
        records, found = self._cache["generations"]
        if problems is not None:
            problems.extend(found)
        return records


def is_scored(run_dir: Path) -> bool:
    return (run_dir / "scores.jsonl").exists() and (run_dir / "summary.json").exists()


def ensure_scored(ctx: RunContext, force: bool = False, progress: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """scores.jsonl, summary.json and anchors.json of the run; scored now when missing or ``force``."""
    if force or not is_scored(ctx.run_dir):
        from evalkit.scoring import score_context

        summary, records = score_context(ctx, progress)
        ctx._cache["summary"] = summary
        ctx._cache["scores"] = (records, [])
        if ctx.judge:
            ensure_judged(ctx, force=True)
    ensure_anchors(ctx, force=force)
    return ctx.summary()


def ensure_judged(ctx: RunContext, force: bool = False) -> Any:
    """judge.json of a run that has a judge (pairwise preferences, consistency report), and the judge in
    the manifest; computed when missing or ``force``. None when the run has no judge."""
    from evalkit.judge.run import judge_stage, load_judge_run
    from evalkit.records import write_json

    if not ctx.judge:
        return None
    stored = None if force else load_judge_run(ctx.run_dir)
    if stored is not None:
        return stored
    if ctx.suite is None:
        raise EvalkitError(f"{ctx.suite_problem()}: the judge needs the suite version the run was generated on")
    from evalkit.scorers.judge import judge_from_context

    judge = judge_from_context(ctx.scoring)
    try:
        record = judge_stage(ctx.run_dir, ctx.manifest, ctx.suite, judge, ctx.generations(), ctx.scores())
    finally:  # the judge's weights are not needed by any later stage
        judge.close()
        ctx.scoring.shared.pop("judge", None)
    ctx.manifest.judge = record.judge
    write_json(ctx.run_dir / "manifest.json", ctx.manifest)
    return record


def ensure_anchors(ctx: RunContext, force: bool = False) -> Any:
    """anchors.json of the run (an AnchorScores), scored with the run's context when missing, stale or
    lacking a degenerate kind the rules now ask for; None when the run's suite version is gone."""
    from evalkit.anchors import kind_metrics, score_anchors, wanted_kinds
    from evalkit.records import write_json

    stored = _stored_anchors(ctx)
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
    ctx._cache["anchors"] = record
    return record


def _has_levels(stored: Any, wanted: dict[str, list[str]]) -> bool:
    """Whether the stored anchors hold every metric the rules now average each kind for (a kind scored
    only for other metrics lacks it: score again, through the cache). Metrics the references lack were
    not scored by this run's scorers at all: nothing to add."""
    return all(m in stored.degenerate[k] for k, ms in wanted.items() if k in stored.degenerate
               for m in ms if m in stored.references)


def _stored_anchors(ctx: RunContext) -> Any:
    if "anchors" not in ctx._cache:
        from pydantic import ValidationError

        from evalkit.errors import RecordError
        from evalkit.records import AnchorScores, read_json

        record = None
        path = ctx.run_dir / "anchors.json"
        if path.exists():
            try:
                record = AnchorScores.model_validate(read_json(path))
            except (RecordError, ValidationError):
                record = None  # damaged: rebuilt from the suite when it is there
        if record is not None and (record.suite_hash != ctx.manifest.suite.hash
                                   or record.split != ctx.manifest.suite.split):
            record = None
        ctx._cache["anchors"] = record
    return ctx._cache["anchors"]


def ensure_rated(ctx: RunContext, force: bool = False) -> dict[str, Any]:
    """rating.json of the run, rebuilt from the stored records when missing or ``force``."""
    from evalkit.records import read_json

    path = ctx.run_dir / "rating.json"
    if not force and "rating" in ctx._cache:
        return ctx._cache["rating"]
    if not force and path.exists():
        rating = read_json(path)
        if isinstance(rating, dict) and isinstance(rating.get("rows"), list):
            ctx._cache["rating"] = rating
            return rating
        raise EvalkitError(f"{path}: not an evalkit rating (rebuild it: delete it and rerun)")
    if not (ctx.run_dir / "scores.jsonl").exists():
        raise EvalkitError(f"run {ctx.manifest.run_id} has no scores.jsonl: score it before rating it")
    ensure_anchors(ctx)
    from evalkit.rating import rate_stored

    from evalkit.judge.run import load_judge_run, preference_row

    judged = load_judge_run(ctx.run_dir)
    labels = [m.label for m in ctx.manifest.models]
    rating = rate_stored(ctx.manifest, ctx.scores, ctx.summary(), path, ctx.rating_config,
                         _stored_anchors(ctx), None if ctx.suite is not None else ctx.suite_problem(),
                         ctx.config_suite,
                         None if judged is None or len(labels) < 2 else lambda cfg: [preference_row(judged, labels, cfg)])
    ctx._cache["rating"] = rating
    return rating


def ensure_reported(ctx: RunContext, rating: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """report.md and report.html of the run (always rewritten: they are cheap and pure)."""
    from evalkit.report import write_reports

    return write_reports(ctx.run_dir, rating if rating is not None else ensure_rated(ctx), ctx)


def rate_run(run_dir: str | Path) -> dict[str, Any]:
    """Rate a scored run (rebuilding rating.json); anchors are scored first only when none are stored."""
    return ensure_rated(RunContext.load(run_dir), force=True)


def report_run(run_dir: str | Path, rerate: bool = False, on_scoring: Callable[[str], None] | None = None) -> tuple[dict[str, Any], Path, Path]:
    """What `evalkit report` does: score stored stories when the run has none scored, rate when
    rating.json is missing (or ``rerate``), then write both reports."""
    ctx = RunContext.load(run_dir)
    if not is_scored(ctx.run_dir):
        if not (ctx.run_dir / "generations.jsonl").exists():
            raise EvalkitError(f"run {ctx.manifest.run_id} has no generations yet: nothing to report")
        if on_scoring:
            on_scoring(ctx.manifest.run_id)
        ensure_scored(ctx)
    rating = ensure_rated(ctx, force=rerate)
    md, html = ensure_reported(ctx, rating)
    return rating, md, html
