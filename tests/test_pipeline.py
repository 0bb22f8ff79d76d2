"""The stage pipeline (issue 11): one run context per run, each stage computed once, no stage reaching back."""

from __future__ import annotations

import json
from pathlib import Path


import evalkit.records
from evalkit.pipeline import RunContext, ensure_rated, ensure_scored


def test_compare_reads_the_manifest_once_and_loads_the_scoring_lm_once(tiny_gpt2_dir, results_dir, monkeypatch):
    """Before the pipeline a compare read manifest.json three times and loaded the scoring LM twice
    (rating rebuilt the anchors with a second ScoringContext)."""
    from evalkit.runner import run_compare
    from evalkit.scorers import lm

    reads: list[str] = []
    real_read, real_load = evalkit.records.read_json, evalkit.records.load_manifest

    def counting_read(path):
        if Path(path).name == "manifest.json":
            reads.append(str(path))
        return real_read(path)

    def counting_load(run_dir):
        reads.append(str(run_dir))
        return real_load(run_dir)

    loads: list[int] = []
    real_init = lm.ScoringLM.__init__

    def counting_init(self, *a, **kw):
        loads.append(1)
        real_init(self, *a, **kw)

    import sys

    for module in [m for name, m in list(sys.modules.items()) if name.startswith("evalkit")]:
        if getattr(module, "read_json", None) is real_read:  # wherever a module bound them by name
            monkeypatch.setattr(module, "read_json", counting_read)
        if getattr(module, "load_manifest", None) is real_load:
            monkeypatch.setattr(module, "load_manifest", counting_load)
    monkeypatch.setattr(lm.ScoringLM, "__init__", counting_init)
    run = run_compare([str(tiny_gpt2_dir)], suite="smoke", results_dir=results_dir, scorers=["coherence"],
                      params={"max_new_tokens": 24, "do_sample": False})
    assert len(reads) <= 1, reads
    assert loads == [1]
    rating = json.loads((run / "rating.json").read_text())
    anchors = json.loads((run / "anchors.json").read_text())
    assert set(anchors["degenerate"]) >= {"looped", "shuffled"} and anchors["references"]["coherence"]["n"] == 5
    assert anchors["references"]["coherence"]["mean"] is not None
    for metric, a in rating["anchors"].items():  # rating read the stored anchors, it scored nothing itself
        assert a["five_star"] == anchors["references"][metric]["mean"]
    assert (run / "report.md").exists()


def test_rating_scores_nothing_when_anchors_are_stored(scored_run: Path, monkeypatch) -> None:
    ctx = RunContext.load(scored_run)
    ensure_scored(ctx)  # scored by the fixture: reused, anchors.json already there
    assert (scored_run / "anchors.json").exists()
    import evalkit.scoring

    def no_scoring(*a, **kw):
        raise AssertionError("rating scored text")

    import evalkit.run_context

    monkeypatch.setattr(evalkit.scoring, "score_stories", no_scoring)
    monkeypatch.setattr(evalkit.run_context, "load_scorers", no_scoring)
    rating = ensure_rated(RunContext.load(scored_run), force=True)
    assert rating.anchors["mtld"].one_star < rating.anchors["mtld"].five_star


def test_a_rerun_of_compare_scores_nothing_it_has_scored(tiny_gpt2_dir, results_dir, monkeypatch):
    """Issue 16: stories and anchors go through the score cache (<results>/.cache/scores), so a rerun
    with every story cached loads no scoring LM and calls no scorer, and stores the same numbers."""
    import evalkit.scoring
    from evalkit.runner import run_compare
    from evalkit.scorers import lm

    loads: list[int] = []
    real_init = lm.ScoringLM.__init__

    def counting_init(self, *a, **kw):
        loads.append(1)
        real_init(self, *a, **kw)

    calls: list[int] = []
    real_score = evalkit.scoring.score_stories

    def counting_score(stories, scorers, context, *a, **kw):
        calls.append(len(stories))
        return real_score(stories, scorers, context, *a, **kw)

    monkeypatch.setattr(lm.ScoringLM, "__init__", counting_init)
    monkeypatch.setattr(evalkit.scoring, "score_stories", counting_score)
    args = dict(suite="smoke", results_dir=results_dir, scorers=["coherence", "repetition"],
                params={"max_new_tokens": 16, "do_sample": False})
    first = run_compare([str(tiny_gpt2_dir)], **args)
    assert loads == [1] and calls  # the first run scored its stories and the anchors
    assert (results_dir / ".cache" / "scores" / "coherence.jsonl").exists()
    loads.clear(), calls.clear()
    second = run_compare([str(tiny_gpt2_dir)], **args)
    assert loads == [] and calls == []
    from evalkit.scoring import SPEED_METRICS

    speed = {m.name for m in SPEED_METRICS}

    def numbers(run: Path) -> dict:
        rows = [json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines()]
        return {r["item_id"]: ({k: v for k, v in r["scores"].items() if k not in speed}, r["notes"]) for r in rows}

    assert numbers(first) == numbers(second)
    a, b = (json.loads((run / "anchors.json").read_text()) for run in (first, second))
    assert (a["references"], a["degenerate"]) == (b["references"], b["degenerate"])


def test_rescoring_a_run_calls_no_scorer_unless_the_cache_is_off(run_builder, tmp_path: Path, monkeypatch) -> None:
    import evalkit.scoring
    from evalkit.pipeline import score_run

    run = run_builder(tmp_path)  # scored with repetition and vocabulary: the cache is filled
    before = (run / "scores.jsonl").read_text()
    calls: list[str] = []
    real_score = evalkit.scoring.score_stories

    def counting_score(stories, scorers, context, *a, **kw):
        calls.extend(s.name for s in scorers)
        return real_score(stories, scorers, context, *a, **kw)

    monkeypatch.setattr(evalkit.scoring, "score_stories", counting_score)
    (run / "anchors.json").unlink()
    score_run(run, ["repetition", "vocabulary"])
    assert calls == []
    assert (run / "scores.jsonl").read_text() == before and (run / "anchors.json").exists()
    ctx = RunContext.load(run, scorer_names=["repetition", "vocabulary"])
    ctx.use_score_cache = False
    ensure_scored(ctx, force=True)
    assert {"repetition", "vocabulary"} <= set(calls)
    assert (run / "scores.jsonl").read_text() == before


def test_each_degenerate_kind_is_scored_only_by_the_metrics_that_average_it(monkeypatch) -> None:
    """The coherence LM is the slow scorer: it reads the shuffled and looped copies its row averages,
    never the off-genre or copied ones (issue 16: the demo's anchors)."""
    from evalkit.anchors import kind_metrics, score_anchors, wanted_kinds
    from evalkit.scorers.base import ScoringContext
    from evalkit.scoring import load_scorers
    from evalkit.suites import load_suite

    import evalkit.scoring

    suite = load_suite("smoke")
    scorers = load_scorers(["vocabulary", "repetition"])
    seen: dict[str, int] = {}
    real = evalkit.scoring.score_stories

    def counting(stories, chosen, context, *a, **kw):
        for s in chosen:
            seen[s.name] = seen.get(s.name, 0) + len(stories)
        return real(stories, chosen, context, *a, **kw)

    monkeypatch.setattr(evalkit.scoring, "score_stories", counting)
    rules = {"mtld": ["looped"], "seq_rep_4": ["looped", "shuffled"]}
    quality = ["mtld", "seq_rep_4"]
    wanted = kind_metrics(quality, rules)
    assert wanted == {"looped": ["mtld", "seq_rep_4"], "shuffled": ["seq_rep_4"]}
    rec = score_anchors(suite.items, suite.items, wanted_kinds(quality, rules), scorers, ScoringContext(suite=suite),
                        suite.hash, "test", wanted=wanted)
    n = len(suite.items)
    assert seen == {"vocabulary": 2 * n, "repetition": 3 * n}  # references + looped; + shuffled
    assert "mtld" in rec.degenerate["looped"] and "mtld" not in rec.degenerate["shuffled"]
    assert rec.degenerate["looped"]["mtld"] < rec.references["mtld"].mean
