"""What a run's reports show, gathered from its stored records (no model, no scorer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from evalkit.judge.injection import NOTE as INJECTION_NOTE
from evalkit.judge.run import JudgeRun
from evalkit.records import CapacityRun, GenerationRecord, Manifest, Rating, RatingRow, ScoreRecord
from evalkit.scoring import describe_missing, missing_stories
from evalkit.suites import Suite


INJECTION_HEADER = ["Model", "Item", "Sentences that talk to the judge"]
INJECTION_INTRO = ("Stories with sentences that talk to the judge (prompt injection, flagged as judge_injection in "
                   "scores.jsonl's notes; \"left out\" means the judge read the story without them):")


@dataclass(frozen=True)
class Output:
    """One model's story for one item."""

    text: str
    error: str | None = None
    scores: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class StoryView:
    item_id: str
    genre: str
    prompt: str
    characters: tuple[tuple[str, str], ...]
    reference: str
    outputs: dict[str, Output]


@dataclass
class ReportData:
    run_id: str
    rating: Rating
    manifest: Manifest
    stories: list[StoryView]
    judge: JudgeRun | None = None  # judge.json when the run used a judge
    injections: list[list[str]] = field(default_factory=list)  # model, item, flagged sentences (INJECTION_HEADER)
    missing: dict[str, list[str]] = field(default_factory=dict)  # model -> items without a stored story
    capacity: CapacityRun | None = None  # capacity.json of a random-weights run (then no stories)

    @property
    def models(self) -> list[str]:
        return list(self.rating.models or [m.label for m in self.manifest.models])

    def row(self, name: str) -> RatingRow | None:
        return next((r for r in self.rating.rows if r.row == name), None)


def report_data(manifest: Manifest, suite: Suite | None, rating: Rating, generations: Sequence[GenerationRecord],
                scores: Sequence[ScoreRecord], judge: JudgeRun | None = None,
                capacity: CapacityRun | None = None) -> ReportData:
    """What the reports show, from the run's stored records (``suite``: the version the run was generated
    on, None when it is gone)."""
    gens = {(g.model, g.item_id): g for g in generations if g.sample == 0}  # one story per item is shown
    by_story = {(s.model, s.item_id): s.scores for s in scores if s.sample == 0}
    items = {i.id: i for i in suite.items} if suite is not None else {}
    labels = [m.label for m in manifest.models]
    stories = []
    for item_id in manifest.suite.item_ids:
        item = items.get(item_id)
        outputs = {}
        for label in labels:
            g = gens.get((label, item_id))
            if g is not None:
                outputs[label] = Output(g.text, g.error, dict(by_story.get((label, item_id), {})))
        stories.append(StoryView(
            item_id=item_id,
            genre=item.genre if item else "unknown",
            prompt=item.prompt if item else "(the suite version of this run is not available)",
            characters=tuple((c.name, c.description) for c in item.characters) if item else (),
            reference=item.story if item else "",
            outputs=outputs,
        ))
    injections = [[s.model, s.item_id, s.notes[INJECTION_NOTE]] for s in scores if INJECTION_NOTE in s.notes]
    missing = missing_stories(manifest, generations) if capacity is None else {}  # a random-weights run writes none
    return ReportData(manifest.run_id, rating, manifest, stories, judge, injections, missing, capacity)


def missing_line(data: ReportData) -> str | None:
    """The report's line about stories the run has no record of (lost to damaged lines, or never written)."""
    return describe_missing(data.missing) if data.missing else None
