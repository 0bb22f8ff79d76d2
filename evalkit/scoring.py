"""The scoring stage: generations.jsonl -> scores.jsonl + summary.json, and ``score_stories`` for any stories.

Per-story scores are kept; aggregates are mean, median and a seeded 95% bootstrap CI of the mean.
Speed is scored per story from the generation record (seconds per story = the batch's wall time
shared by the stories in the batch), so speed can be compared with the same paired tests as quality.
Stories are scored through the score cache (evalkit.score_cache): a story scored once by a scorer
version is never scored again.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evalkit.calibration import GENRE_METRIC, StarMap, add_story_stars, star_maps
from evalkit.profiles import METRIC as PROFILE_METRIC
from evalkit.profiles import profile_star_map
from evalkit.errors import EvalkitError
from evalkit.plugins import SCORERS_GROUP, load_plugin, plugin_entry_points
from evalkit.records import (
    GenerationRecord,
    Manifest,
    ScoreRecord,
    Summary,
    iter_jsonl,
    model_measurements,
    write_json,
    write_text,
)
from evalkit.score_cache import ScoreCache, story_keys
from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.genre import build_genre_model
from evalkit.stats import mean_summary

ENTRY_POINT_GROUP = SCORERS_GROUP

SPEED_METRICS = (
    Metric("seconds_per_story", "lower", 0.0, None, "wall seconds per story (a batch's time shared by its stories)"),
    Metric("tokens_per_s", "higher", 0.0, None, "generated tokens per second of wall time"),
    Metric("ttft_s", "lower", 0.0, None, "seconds to the first generated token of the story's batch"),
)


def load_scorers(names: Sequence[str] | None = None) -> list[Scorer]:
    eps = plugin_entry_points(SCORERS_GROUP)
    chosen = list(names) if names else sorted(eps)
    unknown = [n for n in chosen if n not in eps]
    if unknown:
        raise EvalkitError(f"unknown scorer(s) {', '.join(unknown)}: installed are {', '.join(sorted(eps))}")
    loaded = [load_plugin(SCORERS_GROUP, n, Scorer, "unknown scorer {name!r}")() for n in chosen]
    return loaded if names else [s for s in loaded if getattr(s, "default", True)]  # opt-in scorers (judge) only by name


def metric_table(scorers: Sequence[Scorer]) -> dict[str, Metric]:
    out = {m.name: m for m in SPEED_METRICS}
    for s in scorers:
        for m in s.metrics:
            out[m.name] = m
    return out


PROGRESS_CHUNK = 16  # stories per scorer call when a progress bar follows the scoring


def score_stories(stories: Sequence[StoryInput], scorers: Sequence[Scorer], context: ScoringContext,
                  progress: Callable[[int], None] | None = None) -> list[StoryScores]:
    """Run every scorer over one model's stories; a scorer that fails marks its metrics not scorable.

    ``progress(n)`` is told each time n more stories are scored: the per-story scorers then run over
    chunks of PROGRESS_CHUNK stories (a story's number does not depend on the others, as the score
    cache also assumes), the corpus scorers over the whole set at the end."""
    results: dict[int, list[StoryScores]] = {}
    if progress is None:
        results = {n: score_one(s, stories, context) for n, s in enumerate(scorers)}
    else:
        per_story = [n for n, s in enumerate(scorers) if not s.corpus]
        for chunk in chunks(range(len(stories)), PROGRESS_CHUNK):
            part = [stories[i] for i in chunk]
            for n in per_story:
                results.setdefault(n, []).extend(score_one(scorers[n], part, context))
            progress(len(chunk))
        for n, s in enumerate(scorers):
            if s.corpus:
                results[n] = score_one(s, stories, context)
    merged = [StoryScores() for _ in stories]
    for n in range(len(scorers)):  # metrics in scorer order, however they were computed
        for dst, src in zip(merged, results.get(n, [])):
            dst.values.update(src.values)
            dst.notes.update(src.notes)
    return merged


def score_one(scorer: Scorer, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
    """One scorer over stories, never raising: a failure marks its metrics not scorable, with why."""
    if not stories:
        return []
    try:
        results = scorer.score(stories, context)
        if len(results) != len(stories):
            raise RuntimeError(f"returned {len(results)} results for {len(stories)} stories")
    except Exception as e:  # a broken scorer must not stop the run: record why
        reason = f"scorer {scorer.name} failed: {type(e).__name__}: {e}"[:300]
        return [StoryScores({m.name: None for m in scorer.metrics}, {m.name: reason for m in scorer.metrics})
                for _ in stories]
    return [StoryScores({k: _clean(v) for k, v in r.values.items()}, dict(r.notes)) for r in results]


def chunks(indices: Sequence[int], size: int) -> list[list[int]]:
    indices = list(indices)
    return [indices[i:i + max(1, size)] for i in range(0, len(indices), max(1, size))]


def cached_score_stories(stories: Sequence[StoryInput], scorers: Sequence[Scorer], context: ScoringContext,
                         cache_dir: str | Path | ScoreCache | None,
                         progress: Callable[[int], None] | None = None) -> list[StoryScores]:
    """``score_stories`` that scores only what the cache lacks (``cache_dir`` None: no cache).

    ``stories`` are one model's stories (what corpus scorers compare a story with). ``progress(n)``
    is told as stories are done: the cached ones at once, the rest chunk by chunk (each chunk's fresh
    numbers stored before the next, with or without ``progress``, so a killed scoring keeps them)."""
    if cache_dir is None:
        if progress is None:
            return score_stories(stories, scorers, context)
        return score_stories(stories, scorers, context, progress=progress)
    cache = cache_dir if isinstance(cache_dir, ScoreCache) else ScoreCache(cache_dir)
    plans = []  # (scorer, keys, found, missing) per scorer
    for scorer in scorers:
        keys = story_keys(scorer, stories, context)
        found: list[StoryScores | None] = [cache.get(scorer.name, k) for k in keys]
        plans.append((scorer, keys, found, [i for i, f in enumerate(found) if f is None]))
    pending = sorted({i for scorer, _, _, missing in plans if not scorer.corpus for i in missing})
    if progress is not None:
        progress(len(stories) - len(pending))
    for chunk in chunks(pending, PROGRESS_CHUNK):  # each chunk stored before the next: kill -9 keeps it
        wanted = set(chunk)
        for scorer, keys, found, missing in plans:
            todo = [i for i in missing if i in wanted]
            if scorer.corpus or not todo:
                continue
            fresh = score_stories([stories[i] for i in todo], [scorer], context)
            for i, r in zip(todo, fresh):
                found[i] = r
            cache.put(scorer, scorer.cache_identity(context), [(keys[i], found[i]) for i in todo])
        if progress is not None:
            progress(len(chunk))
    for scorer, keys, found, missing in plans:
        if scorer.corpus and missing:  # a corpus scorer needs the whole set in one call
            found[:] = score_stories(stories, [scorer], context)
            cache.put(scorer, scorer.cache_identity(context), [(keys[i], found[i]) for i in missing])
    merged = [StoryScores() for _ in stories]
    for scorer, keys, found, missing in plans:
        fresh = set(missing)
        for i, (dst, src) in enumerate(zip(merged, found)):
            if i not in fresh:
                scorer.derive(src.values, src.notes, context)
            dst.values.update(src.values)
            dst.notes.update(src.notes)
    return merged


def _clean(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def speed_scores(rec: GenerationRecord) -> dict[str, float | None]:
    share = rec.extra.get("wall_share_s")  # remote backends: the request's share of overlapping wall time
    n_batch = max(1, int(rec.extra.get("batch_n", 1) or 1))
    sps = float(share) if isinstance(share, (int, float)) else (rec.latency_s / n_batch if rec.latency_s else None)
    tps = (rec.completion_tokens / rec.latency_s) if rec.latency_s and rec.completion_tokens is not None else None
    return {"seconds_per_story": sps, "tokens_per_s": tps, "ttft_s": rec.ttft_s}


def load_generations(run_dir: Path, problems: list[str] | None = None) -> list[GenerationRecord]:
    """The run's generations, last record per (model, item, sample) winning."""
    latest: dict[tuple[str, str, int], GenerationRecord] = {}
    for rec in iter_jsonl(run_dir / "generations.jsonl", GenerationRecord, problems):
        latest[(rec.model, rec.item_id, rec.sample)] = rec
    return list(latest.values())


def load_scores(run_dir: Path, problems: list[str] | None = None) -> list[ScoreRecord]:
    return list(iter_jsonl(Path(run_dir) / "scores.jsonl", ScoreRecord, problems))


def story_star_maps(scorers: Sequence[Scorer], context: ScoringContext, suite: Any) -> dict[str, StarMap]:
    """metric -> StarMap: the calibrated stars each story gets (``<metric>_stars`` in scores.jsonl)."""
    names = [m.name for s in scorers for m in s.metrics]
    maps = star_maps(names, suite, genre_calibration(scorers, context))
    profile = (context.options.get("lm") or {}).get("profile")
    if profile and PROFILE_METRIC in names:  # the reader's own calibration (evalkit.profiles)
        maps[PROFILE_METRIC] = profile_star_map(profile)
    return maps


def genre_calibration(scorers: Sequence[Scorer], context: ScoringContext) -> tuple[bool, int, str] | None:
    """(calibrated?, genres, how) from the genre scorer's model; None without a genre scorer or genres.
    A model may say ``calibrated`` itself; otherwise only the fitted classifier's probabilities are
    calibrated (zero-shot similarities are not)."""
    if not any(GENRE_METRIC in {m.name for m in s.metrics} for s in scorers):
        return None
    try:
        model = build_genre_model(context)
    except Exception:  # the scorer itself reports its failure; no genre stars then
        return None
    if model is None:
        return None
    calibrated = bool(getattr(model, "calibrated", getattr(model, "kind", "") == "classifier"))
    return calibrated, len(model.genres), model.describe()


def score_generations(run_dir: Path, manifest: Manifest, suite: Any, generations: Sequence[GenerationRecord],
                      problems: list[str], scorers: Sequence[Scorer], context: ScoringContext,
                      cache: ScoreCache | None, progress: Callable[[str, int], None] | None = None,
                      allow_missing: bool = False) -> tuple[Summary, list[ScoreRecord]]:
    """Score a run's stored stories with the suite version it was generated on: writes scores.jsonl and
    summary.json. ``problems``: the damaged generations.jsonl lines skipped while reading them."""
    check_generations(manifest, generations, problems, allow_missing)
    records: list[ScoreRecord] = []
    order = {iid: n for n, iid in enumerate(manifest.suite.item_ids)}
    maps = None
    for mrun in manifest.models:
        mine = sorted((g for g in generations if g.model == mrun.label and g.error is None),
                      key=lambda g: (order.get(g.item_id, 1 << 30), g.sample))
        stories = [StoryInput.from_item(suite.item(g.item_id), g.text) for g in mine]
        if progress:
            progress(mrun.label, len(stories))
        # through the score cache: a rerun scores only stories (or scorer versions) it has not seen
        results = cached_score_stories(stories, scorers, context, cache)
        if maps is None:  # after the first scoring: the genre model is built by then
            maps = story_star_maps(scorers, context, suite)
        rows = [{**speed_scores(g), **r.values} for g, r in zip(mine, results)]
        add_story_stars(rows, maps)
        for g, r, values in zip(mine, results, rows):
            records.append(ScoreRecord(model=mrun.label, item_id=g.item_id, gen_key=g.key, scores=values, notes=r.notes,
                                       sample=g.sample))
    write_text(run_dir / "scores.jsonl", "".join(json.dumps(r.model_dump(mode="json", by_alias=True), ensure_ascii=False) + "\n" for r in records))
    summary = summarize(manifest, records, metric_table(scorers), problems)
    write_json(run_dir / "summary.json", summary)
    return summary, records


def missing_stories(manifest: Manifest, gens: Sequence[GenerationRecord]) -> dict[str, list[str]]:
    """model -> the suite items of the run it has no readable generation record for (a failed
    generation has a record, with its error: it is not missing)."""
    have = {(g.model, g.item_id) for g in gens}
    lost = {m.label: [i for i in manifest.suite.item_ids if (m.label, i) not in have] for m in manifest.models}
    return {k: v for k, v in lost.items() if v}


def missing_names(lost: dict[str, list[str]], limit: int | None = None) -> str:
    """'model: item, item; model: item' (at most ``limit`` items a model, then '...')."""
    def items(ids: list[str]) -> str:
        shown = ids if limit is None else ids[:limit]
        return ", ".join(shown) + (", ..." if len(shown) < len(ids) else "")
    return "; ".join(f"{label}: {items(ids)}" for label, ids in lost.items())


def describe_missing(lost: dict[str, list[str]]) -> str:
    """The line the reports and `evalkit report --allow-missing` show about stories a run lacks."""
    n = sum(map(len, lost.values()))
    return (f"Missing stories: {n} stor{'y of this run has' if n == 1 else 'ies of this run have'} no stored "
            f"generation and {'is' if n == 1 else 'are'} left out of every number ({missing_names(lost)}).")


def rerun_hint(manifest: Manifest) -> str:
    return (f"`evalkit {shlex.join(manifest.command[1:])}`" if len(manifest.command) > 1
            else "the `evalkit compare` command that made it")


def check_generations(manifest: Manifest, gens: Sequence[GenerationRecord], problems: Sequence[str],
                      allow_missing: bool = False) -> None:
    """Refuse (exit 2) to score a run whose damaged generations.jsonl lines cost it stories: scoring on
    would put fewer stories in the star table with only a note in summary.json. A damaged line whose
    story was written again later (a resume after a torn write) loses nothing and stays a note.
    ``allow_missing`` (report --allow-missing): score the rest; the reports list what is missing."""
    if not problems or allow_missing:
        return
    lost = {k: len(v) for k, v in missing_stories(manifest, gens).items()}
    if not lost:
        return
    first = problems[0].replace(": skipped a damaged line (", ": damaged line (", 1)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    n = sum(lost.values())
    raise EvalkitError(
        f"{first}{more}: {n} stor{'y' if n == 1 else 'ies'} of run {manifest.run_id} cannot be read "
        f"({', '.join(f'{k}: {v}' for k, v in lost.items())}); rerun {rerun_hint(manifest)} (a new run that reuses "
        "every cached story and generates only the missing ones), or delete the damaged line to score this run "
        "without those stories"
    )


def summarize(manifest: Manifest, records: Sequence[ScoreRecord], metrics: dict[str, Metric],
              problems: Sequence[str] = ()) -> Summary:
    models: dict[str, dict[str, Any]] = {}
    for mrun in manifest.models:
        mine = [r for r in records if r.model == mrun.label]
        names = sorted({k for r in mine for k in r.scores} | set(metrics))
        models[mrun.label] = {name: mean_summary([r.scores.get(name) for r in mine]) for name in names}
    return Summary.model_validate({
        "run_id": manifest.run_id,
        "suite": manifest.suite.name,
        "split": manifest.suite.split,
        "metrics": {m.name: {"direction": m.direction, "low": m.low, "high": m.high, "description": m.description}
                    for m in metrics.values()},
        "models": models,
        "measurements": {mrun.label: model_measurements(mrun) for mrun in manifest.models},
        "problems": list(problems),
    })
