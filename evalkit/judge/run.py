"""The judge in a run (``compare --judge MODEL``, or ``model`` under [judge] in suite.toml).

The scoring stage rates every story with the judge scorer (judge_* metrics in scores.jsonl); then
``judge_stage`` has the judge compare every pair of models item by item, both orders, and writes
judge.json (a JudgeRun: the preferences and the consistency report). Rating reads judge.json and adds
the "Judge preference" row through ``preference_row`` (numbers only, no model); the reports render
the consistency report from it. The seed's eight rows and Overall Quality never read it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from evalkit.judge.consistency import ConsistencyReport, consistency_report
from evalkit.judge.pairwise import ROW_LABEL, PreferenceRow, compare_pair, outcome_value
from evalkit.records import JudgeRef, WrittenRecord

JUDGE_RUN_SCHEMA = "evalkit.judge-run/1"
FILE = "judge.json"
METRIC = "judge_preference"


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
    from evalkit.errors import EvalkitError
    from evalkit.judge.rubric import builtin_rubrics, load_rubrics

    conf = (getattr(suite, "config", None) or {}).get("judge", {}) if suite is not None else {}
    name = conf.get("pairwise", "overall") if isinstance(conf, dict) else "overall"
    known = builtin_rubrics() | {r.name: r for r in load_rubrics(suite)}  # the suite's overrides win
    if name not in known:
        raise EvalkitError(f"suite.toml [judge] pairwise: unknown rubric {name!r}; known: {', '.join(known)}")
    return known[name]


def judge_stage(run_dir: Path, manifest: Any, suite: Any, judge: Any, generations: Sequence[Any],
                score_records: Sequence[Any]) -> JudgeRun:
    """Pairwise preferences and the consistency report of a scored run; writes judge.json."""
    from evalkit.models.base import ModelSpec
    from evalkit.records import write_json
    from evalkit.scorers.judge import NO_JUDGE

    labels = [m.label for m in manifest.models]
    items = [suite.item(i) for i in manifest.suite.item_ids]
    texts = {lab: {g.item_id: g.text for g in generations if g.model == lab and g.error is None} for lab in labels}
    genres = dict(getattr(suite, "genres", None) or {})
    rubric = pairwise_rubric(suite)
    prefs = [compare_pair(judge, items, texts[a], texts[b], a, b, rubric, genres)
             for n, a in enumerate(labels) for b in labels[n + 1:]]
    scores = [r.scores for r in score_records]
    rated = [(k, r) for r in score_records for k in r.scores if k.startswith("judge_")]
    missing = sum(1 for k, r in rated if r.scores[k] is None and r.notes.get(k) != NO_JUDGE)
    candidates = {m.label: (m.model_key, ModelSpec(m.label, str(m.spec.get("backend", "")), dict(m.spec.get("options") or {})))
                  for m in manifest.models}
    report = consistency_report(judge, scores, prefs, candidates, missing=missing + sum(p.n_missing for p in prefs),
                                counterparts=counterparts(suite))
    record = JudgeRun(run_id=manifest.run_id, judge=judge.info(), criterion=rubric.name, ratings_missing=missing,
                      ratings_total=len(rated), preferences=prefs, consistency=report)
    write_json(Path(run_dir) / FILE, record)
    return record


def counterparts(suite: Any) -> dict[str, str]:
    """Judge metric -> the automatic metric on the same star-table row under the suite's [rating]."""
    from evalkit.judge.consistency import AUTOMATIC_COUNTERPART, JUDGE_ROWS
    from evalkit.rating import load_rating_config

    quality = load_rating_config(suite.config, str(Path(suite.path) / "suite.toml")).quality
    return {**AUTOMATIC_COUNTERPART, **{j: quality[r] for j, r in JUDGE_ROWS.items() if quality.get(r)}}


def load_judge_run(run_dir: str | Path) -> JudgeRun | None:
    """judge.json of a run; None when the run used no judge (or the file is damaged: rescore to rebuild)."""
    from pydantic import ValidationError

    from evalkit.errors import RecordError
    from evalkit.records import read_json

    path = Path(run_dir) / FILE
    if not path.exists():
        return None
    try:
        return JudgeRun.model_validate(read_json(path))
    except (RecordError, ValidationError):
        return None


def preference_row(run: JudgeRun, models: Sequence[str], cfg: Any) -> dict[str, Any]:
    """The "Judge preference" row (a rating.json row): per model, the share of items the judge preferred
    its story over the other models' (both orders agreeing; a tie counts half), with the bootstrap 95%
    interval over items; per pair, the paired bootstrap of (A's share - B's share) decides the winner,
    as in the seed's rows. No stars: a win rate is relative to the other candidates, not to the anchors."""
    from evalkit.rating import rank
    from evalkit.rating.winners import Comparison
    from evalkit.stats import paired_bootstrap_ci

    # per model and item: its shares against every opponent
    shares: dict[str, dict[str, list[float]]] = {m: {} for m in models}
    comps = []
    for p in run.preferences:
        if p.model_a not in shares or p.model_b not in shares:
            continue
        done = [j for j in p.judgments if j.outcome is not None]
        for j in done:
            shares[p.model_a].setdefault(j.item_id, []).append(outcome_value(j.outcome))  # type: ignore[arg-type]
            shares[p.model_b].setdefault(j.item_id, []).append(1.0 - outcome_value(j.outcome))  # type: ignore[arg-type]
        if not done:
            continue
        diffs = [2.0 * outcome_value(j.outcome) - 1.0 for j in done]  # type: ignore[arg-type]
        mean = math.fsum(diffs) / len(diffs)
        lo, hi = paired_bootstrap_ci(diffs, cfg.bootstrap_resamples, cfg.bootstrap_seed, cfg.confidence,
                                     clusters=[j.item_id for j in done])
        sig = lo > 0 or hi < 0
        comps.append(Comparison(a=p.model_a, b=p.model_b, diff=mean, ci_low=lo, ci_high=hi, significant=sig,
                                better=(p.model_a if mean > 0 else p.model_b) if sig else None, n=len(done)))
    cells = {}
    for m in models:
        per_item = [math.fsum(v) / len(v) for v in shares[m].values()]
        if not per_item:
            cells[m] = {"value": None, "ci_low": None, "ci_high": None, "n": 0, "stars": None, "score": None,
                        "note": "the judge compared no story of this model"}
            continue
        lo, hi = paired_bootstrap_ci(per_item, cfg.bootstrap_resamples, cfg.bootstrap_seed, cfg.confidence)
        cells[m] = {"value": math.fsum(per_item) / len(per_item), "ci_low": lo, "ci_high": hi, "n": len(per_item),
                    "stars": None, "score": None, "note": None}
    row: dict[str, Any] = {
        "row": ROW_LABEL, "kind": "judge", "metric": METRIC,
        "unit": "share of items the judge prefers, 0–1, higher is better",
        "direction": "higher", "models": cells,
        "note": (f"judge {run.judge.label} on {run.criterion}, each item in both orders (a tie counts half); "
                 "no stars and not part of Overall Quality"
                 + (f"; {run.consistency.missing} judge answers missing" if run.consistency.missing else "")),
    }
    complete = len(models) >= 2 and all(c["value"] is not None for c in cells.values()) and \
        len(comps) == len(models) * (len(models) - 1) // 2
    winner, ranking, leaders = rank(list(models), comps) if complete else (None, [], [])
    row.update(winner=winner, comparisons=[c.as_dict() for c in comps], ranking=ranking, leaders=leaders)
    return row
