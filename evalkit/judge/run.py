"""The judge in a run (``compare --judge MODEL``, or ``model`` under [judge] in suite.toml).

The scoring stage rates every story with the judge scorer (judge_* metrics in scores.jsonl); then
``judge_stage`` has the judge compare every pair of models item by item, both orders, and writes
judge.json (a JudgeRun: the preferences and the consistency report). Rating reads judge.json and adds
the "Judge preference" row by its row rule (evalkit.rating.rows; numbers only, no model); the reports
render the consistency report from it. The seed's eight rows and Overall Quality never read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from evalkit.errors import EvalkitError, RecordError
from evalkit.judge.consistency import (
    AUTOMATIC_COUNTERPART,
    JUDGE_ROWS,
    ConsistencyReport,
    consistency_report,
)
from evalkit.judge.pairwise import PreferenceRow, compare_pair
from evalkit.judge.rubric import builtin_rubrics, load_rubrics
from evalkit.models.base import ModelSpec
from evalkit.records import JudgeRef, WrittenRecord, read_json, write_json

JUDGE_RUN_SCHEMA = "evalkit.judge-run/1"
FILE = "judge.json"


class JudgeRun(WrittenRecord):
    """judge.json: what the judge said about the run as a whole (per-story ratings are in scores.jsonl)."""

    schema_: str = Field(JUDGE_RUN_SCHEMA, alias="schema", description="record type and version")
    run_id: str = Field(description="the run")
    judge: JudgeRef = Field(description="the judge, its engine and the rubric versions used")
    criterion: str = Field(description="the rubric the pairwise comparisons used")
    ratings_missing: int = Field(description="per-story judge ratings left null (judge unreachable, unreadable answers)")
    ratings_total: int = Field(description="per-story judge ratings asked for")
    preferences: list[PreferenceRow] = Field(description="one per pair of models, in run order")
    consistency: ConsistencyReport = Field(description="order agreement, position bias, agreement with the "
                                                       "automatic metrics, self-preference warnings")


def pairwise_rubric(suite: Any) -> Any:
    """The rubric pairs are compared on: ``pairwise = NAME`` under [judge], else overall quality."""
    conf = (getattr(suite, "config", None) or {}).get("judge", {}) if suite is not None else {}
    name = conf.get("pairwise", "overall") if isinstance(conf, dict) else "overall"
    known = builtin_rubrics() | {r.name: r for r in load_rubrics(suite)}  # the suite's overrides win
    if name not in known:
        raise EvalkitError(f"suite.toml [judge] pairwise: unknown rubric {name!r}; known: {', '.join(known)}")
    return known[name]


def judge_stage(run_dir: Path, manifest: Any, suite: Any, judge: Any, generations: Sequence[Any],
                score_records: Sequence[Any], quality: Mapping[str, str], unasked: str) -> JudgeRun:
    """Pairwise preferences and the consistency report of a scored run; writes judge.json. ``quality``:
    star row -> metric under the run's [rating] (the judge's metrics are compared with those);
    ``unasked``: the note of a judge rating left null because no judge was configured (not missing)."""
    labels = [m.label for m in manifest.models]
    items = [suite.item(i) for i in manifest.suite.item_ids]
    texts = {lab: {g.item_id: g.text for g in generations if g.model == lab and g.error is None} for lab in labels}
    genres = dict(getattr(suite, "genres", None) or {})
    rubric = pairwise_rubric(suite)
    prefs = [compare_pair(judge, items, texts[a], texts[b], a, b, rubric, genres)
             for n, a in enumerate(labels) for b in labels[n + 1:]]
    scores = [r.scores for r in score_records]
    rated = [(k, r) for r in score_records for k in r.scores if k.startswith("judge_")]
    missing = sum(1 for k, r in rated if r.scores[k] is None and r.notes.get(k) != unasked)
    candidates = {m.label: (m.model_key, ModelSpec(m.label, str(m.spec.get("backend", "")), dict(m.spec.get("options") or {})))
                  for m in manifest.models}
    report = consistency_report(judge, scores, prefs, candidates, missing=missing + sum(p.n_missing for p in prefs),
                                counterparts=counterparts(quality))
    record = JudgeRun(run_id=manifest.run_id, judge=judge.info(), criterion=rubric.name, ratings_missing=missing,
                      ratings_total=len(rated), preferences=prefs, consistency=report)
    write_json(Path(run_dir) / FILE, record)
    return record


def counterparts(quality: Mapping[str, str]) -> dict[str, str]:
    """Judge metric -> the automatic metric on the same star-table row (``quality``: row -> metric)."""
    return {**AUTOMATIC_COUNTERPART, **{j: quality[r] for j, r in JUDGE_ROWS.items() if quality.get(r)}}


def load_judge_run(run_dir: str | Path) -> JudgeRun | None:
    """judge.json of a run; None when the run used no judge (or the file is damaged: rescore to rebuild)."""
    path = Path(run_dir) / FILE
    if not path.exists():
        return None
    try:
        return JudgeRun.model_validate(read_json(path))
    except (RecordError, ValidationError):
        return None
