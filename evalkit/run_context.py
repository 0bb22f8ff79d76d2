"""What every stage of a run reads, loaded once: the RunContext (manifest, the suite version the run was
generated on, the scorers and one ScoringContext, and the stored stage records, each read at most once as
a typed record). The stages themselves are in pipeline.py."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit.errors import EvalkitError, RecordError
from evalkit.judge.run import JudgeRun, load_judge_run
from evalkit.plugins import SCORERS_GROUP, plugin_entry_points
from evalkit.rating import RatingConfig, load_rating_config
from evalkit.records import (
    RATING_SCHEMA,
    AnchorScores,
    CapacityRun,
    GenerationRecord,
    Manifest,
    Rating,
    ScoreRecord,
    Summary,
    load_manifest,
    read_json,
    write_json,
)
from evalkit.score_cache import DEFAULT_SUBDIR, ScoreCache
from evalkit.scorers.base import Scorer, ScoringContext
from evalkit.scorers.lm import choose_scoring_lm
from evalkit.scoring import (
    SPEED_METRICS,
    load_generations,
    load_scorers,
    load_scores,
)
from evalkit.suites import Suite, find_run_suite


CAPACITY_FILE = "capacity.json"  # a random-weights run's measurements (records.CapacityRun)


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
        recorded = self.manifest.scoring_lm.requested if self.manifest.scoring_lm is not None else None
        if "lm" not in options and recorded:  # the reader the run was asked for (--scoring-lm), again
            options["lm"] = dict(recorded)
        requested = options.get("lm")
        suite_lm = ((self.suite.config.get("scoring") or {}).get("lm") if self.suite is not None else None)
        if "lm" not in options and isinstance(suite_lm, dict):  # suite.toml [scoring.lm] path / alternatives
            options["lm"] = dict(suite_lm)
        if any(getattr(s, "uses_lm", False) for s in self.scorers):
            options["lm"] = self._choose_lm(options.get("lm"), requested)
        if self.judge:  # judge calls are cached beside the generations: <results>/.cache/judge/
            options.update({"judge": self.judge, "models_file": self.models_file,
                            "judge_cache_dir": self.run_dir.parent / ".cache"})
        return ScoringContext(suite=self.suite, device=self.device, options=options)

    @cached_property
    def score_cache(self) -> ScoreCache | None:
        """The score cache the run's stories and anchors are scored through (evalkit.score_cache), in
        the results folder beside the generation cache: <results>/.cache/scores; None when disabled."""
        return ScoreCache(self.run_dir.parent / DEFAULT_SUBDIR) if self.use_score_cache else None

    def _choose_lm(self, lm: dict[str, Any] | None, requested: dict[str, Any] | None = None) -> dict[str, Any]:
        """A scorer must not grade its own model's text: the scoring LM is one no candidate is built on
        (or, when none is left, the run says so). The manifest records which LM scored."""
        try:
            info, chosen = choose_scoring_lm([(m.label, m.spec) for m in self.manifest.models], lm)
        except EvalkitError as e:  # coherence then marks its stories not scorable, with the reason
            sys.stderr.write(f"warning: {e}\n")
            return {k: v for k, v in (lm or {}).items() if k != "alternatives"}
        info.requested = requested
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
