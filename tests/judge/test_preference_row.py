"""The Judge preference row (rating.json, built by its row rule in evalkit.rating) and the Judge section of
the reports, from a stored judge.json: numbers only, no model."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from evalkit.judge.consistency import ConsistencyReport, MetricAgreement
from evalkit.judge.pairwise import PairJudgment, summarize_pairs
from evalkit.judge.run import FILE, JudgeRun
from evalkit.rating import judge_row
from evalkit.records import JudgeRef, RatingRow, write_json
from evalkit.stats import mean_summary, paired_bootstrap_ci

CFG = SimpleNamespace(bootstrap_resamples=2000, bootstrap_seed=7, confidence=0.95)
ITEMS = [f"i{n}" for n in range(6)]


def _pair(a: str, b: str, outcomes: list[str | None]):
    js = [PairJudgment(item_id=i, p_a_first=None if o is None else 0.5, p_a_second=None if o is None else 0.5,
                       outcome=o, consistent=None if o is None else o != "tie") for i, o in zip(ITEMS, outcomes)]
    return summarize_pairs(js, "j", "overall", a, b)


def _run(prefs, warnings=(), judge_label="judge-x") -> JudgeRun:
    ref = JudgeRef(model=judge_label, label=judge_label, backend="hf", spec={}, fingerprint="f" * 16,
                   engine="logits", rubrics={"overall": "v1:abc"})
    cons = ConsistencyReport(judge=judge_label, order_agreement=0.75, position_bias=0.1, missing=1,
                             agreement=[MetricAgreement(judge_metric="judge_coherence", automatic_metric="coherence",
                                                        n=10, kendall_tau=0.4)], warnings=list(warnings))
    return JudgeRun(run_id="r", judge=ref, criterion="overall", ratings_missing=1, ratings_total=30,
                    preferences=prefs, consistency=cons)


def preference_row(run: JudgeRun, models: list[str], cfg) -> dict:
    return judge_row(run.preferences, models, cfg, f"judge {run.judge.label}; {run.consistency.missing} judge answers missing")


def test_three_models_cells_intervals_and_winner():
    # a beats b on every item, a beats c on 4 of 6 (one tie, one loss), b and c tie throughout
    run = _run([_pair("a", "b", ["a"] * 6), _pair("a", "c", ["a", "a", "a", "a", "tie", "b"]),
                _pair("b", "c", ["tie"] * 5 + [None])])
    row = preference_row(run, ["a", "b", "c"], CFG)
    RatingRow.model_validate(row)  # a rating.json row like the eight
    # per item, a model's share averaged over its opponents
    a_items = [1.0] * 4 + [0.75, 0.5]
    assert row["models"]["a"]["value"] == pytest.approx(sum(a_items) / 6)
    summary = mean_summary(a_items)  # a cell's interval, as every row's
    assert (row["models"]["a"]["ci_low"], row["models"]["a"]["ci_high"]) == pytest.approx((summary["ci_low"], summary["ci_high"]))
    c_items = [0.5 * (0 + 0.5)] * 4 + [0.5 * (0.5 + 0.5), 1.0]  # item i5: b-c unanswered, c beat a
    assert row["models"]["c"]["value"] == pytest.approx(sum(c_items) / 6) and row["models"]["c"]["n"] == 6
    comps = {(c["a"], c["b"]): c for c in row["comparisons"]}
    assert comps[("a", "b")]["diff"] == 1.0 and comps[("a", "b")]["better"] == "a"
    assert comps[("a", "c")]["diff"] == pytest.approx((4 - 1) / 6) and comps[("a", "c")]["n"] == 6
    assert comps[("b", "c")]["n"] == 5 and comps[("b", "c")]["diff"] == 0.0 and not comps[("b", "c")]["significant"]
    lo, hi = paired_bootstrap_ci([1.0] * 4 + [0.0, -1.0], CFG.bootstrap_resamples, CFG.bootstrap_seed, CFG.confidence,
                                 clusters=ITEMS)
    assert (comps[("a", "c")]["ci_low"], comps[("a", "c")]["ci_high"]) == pytest.approx((lo, hi))
    assert comps[("a", "c")]["p_holm"] is not None  # three models: Holm over the row's pairs, as the eight rows
    assert row["winner"] == ("a" if comps[("a", "c")]["significant"] else "tie") and row["test"]
    assert row["ranking"][0] == "a" and all(c["stars"] is None for c in row["models"].values())
    assert "1 judge answers missing" in row["note"]


def test_a_model_the_judge_never_compared_has_no_value_and_no_winner_is_named():
    run = _run([_pair("a", "b", [None] * 6)])
    row = preference_row(run, ["a", "b"], CFG)
    assert row["models"]["a"]["value"] is None and row["winner"] is None and row["comparisons"] == []


def test_reports_show_the_row_and_the_judge_section_escaped(run_builder, tmp_path):
    from evalkit.pipeline import RunContext, ensure_rated, ensure_reported
    from evalkit.rating import ROWS

    payload = '<script>alert(1)</script>|x'
    run_dir = run_builder(tmp_path, labels=("storyteller", "parrot"))
    write_json(run_dir / FILE, _run([_pair("storyteller", "parrot", ["a"] * 5 + ["tie"])],
                                    warnings=[f"the judge is also the candidate {payload}"], judge_label=payload))
    ctx = RunContext.load(run_dir)
    rating = ensure_rated(ctx, force=True)
    assert [r.row for r in rating.rows] == [*ROWS, "Judge preference"]
    md_path, html_path = ensure_reported(ctx, rating)
    md, html = md_path.read_text(), html_path.read_text()
    assert "| **Judge preference** | 92% preferred | 8% preferred |" in md
    assert "## Judge" in md and "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;\\|x" in md
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;|x" in html
    assert 'id="judge-agreement"' in html and "judge_coherence" in html
    # the stored rating is valid and a rerate without judge.json drops the row
    (run_dir / FILE).unlink()
    assert [r.row for r in ensure_rated(RunContext.load(run_dir), force=True).rows] == list(ROWS)


def test_the_automatic_counterpart_is_the_metric_on_the_same_row_of_the_suite(tmp_path):
    from evalkit.judge.run import counterparts
    from evalkit.rating import load_rating_config
    from evalkit.suites import load_suite
    from run_folders import make_suite

    got = counterparts(load_rating_config(load_suite(make_suite(tmp_path)).config).quality)  # its [rating] puts distinct_2 on Story Coherence
    assert got["judge_coherence"] == "distinct_2" and got["judge_genre"] == "seq_rep_4"
    assert got["judge_creativity"] == "creativity" and got["judge_age"] == "reading_band_fit"
