"""Issue 17 wired into runs: calibrated stars per story in scores.jsonl, winners from the cluster
bootstrap with the row's detectable difference, Holm over a row's pairs, and issue 14's check that a
quality row's references beat their degenerate copies (else "not informative": no stars, no winner)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from evalkit.calibration import genre_stars, load_calibration
from evalkit.records import dump_record
from evalkit.rating import RatingInput, compare_paired, load_rating_config, rank, rate
from evalkit.rating.winners import holm_row

CFG = load_rating_config({})
INFO = {"coherence": {"direction": "higher", "low": 0.0, "high": 1.0}}
CAL = {"coherence": {"name": "hanna-coherence", "criterion": "Coherence"}}


def _row(rating: dict, name: str) -> dict:
    return next(r for r in rating["rows"] if r["row"] == name)


def _inp(stars: dict[str, dict[str, list[float]]], checks: dict | None = None) -> RatingInput:
    """Models whose stories carry coherence and calibrated coherence_stars (one entry per sample)."""
    items = sorted(next(iter(stars.values())))
    per_story = {m: {i: [{"coherence": s / 5, "coherence_stars": s} for s in v[i]] for i in items}
                 for m, v in stars.items()}
    return RatingInput(list(stars), items, per_story, {}, {}, INFO, {}, checks or {}, CAL)


def test_scores_carry_calibrated_stars_and_the_row_uses_them(scored_run: Path) -> None:
    cal = load_calibration("hanna-mtld")
    lines = [json.loads(x) for x in (scored_run / "scores.jsonl").read_text().splitlines()]
    assert lines and all(x["sample"] == 0 for x in lines)
    for x in lines:
        assert x["scores"]["mtld_stars"] == pytest.approx(cal.stars([x["scores"]["mtld"]])[0])
        assert "distinct_2_stars" not in x["scores"]  # no calibration: no per-story stars invented
    rating = json.loads((scored_run / "rating.json").read_text()) if (scored_run / "rating.json").exists() else None
    if rating is None:
        from evalkit.pipeline import rate_run

        rating = dump_record(rate_run(scored_run))
    vocab, coherence = _row(rating, "Vocabulary Richness"), _row(rating, "Story Coherence")
    assert vocab["stars_from"] == "calibration hanna-mtld" and coherence["stars_from"] == "anchors"
    assert rating["calibrations"]["mtld"]["criterion"] == "Complexity"
    for model, cell in vocab["models"].items():
        mine = [x["scores"]["mtld_stars"] for x in lines if x["model"] == model]
        assert cell["score"] == pytest.approx(sum(mine) / len(mine))  # mean of the stories' calibrated stars


def test_a_tie_states_the_detectable_difference_and_what_would_resolve_it() -> None:
    rng = random.Random(3)
    items = [f"i{n:02d}" for n in range(8)]
    base = {i: rng.uniform(2.0, 4.0) for i in items}
    stars = {"A": {i: [base[i] + 0.1 + rng.gauss(0, 0.5) for _ in range(2)] for i in items},
             "B": {i: [base[i] + rng.gauss(0, 0.5) for _ in range(2)] for i in items}}
    rating = rate(_inp(stars), CFG)
    row = _row(rating, "Story Coherence")
    comp = row["comparisons"][0]
    assert row["winner"] == "tie" and row["stars_from"] == "calibration hanna-coherence"
    assert rating["samples"] == 2 and comp["n"] == 8 and comp["n_samples"] == 2
    assert comp["mde"] > abs(comp["diff"])  # a tie: the true difference is under what the run can see
    assert row["mde"] == pytest.approx(comp["mde"])
    assert row["test"].startswith(f"tie: a difference under {comp['mde']:.1f}★ could not be seen with 8 prompts × 2 samples")
    assert f"≈{comp['items_to_resolve']} prompts would resolve it" in row["test"] and comp["items_to_resolve"] > 8
    # the same difference, many more prompts: a winner, and the detectable difference shrinks
    many = [f"i{n:03d}" for n in range(400)]
    base = {i: rng.uniform(2.0, 4.0) for i in many}
    stars = {"A": {i: [base[i] + 0.3 + rng.gauss(0, 0.5) for _ in range(2)] for i in many},
             "B": {i: [base[i] + rng.gauss(0, 0.5) for _ in range(2)] for i in many}}
    big = _row(rate(_inp(stars), CFG), "Story Coherence")
    assert big["winner"] == "A" and big["mde"] < row["mde"] and big["test"].startswith("A wins")


def test_holm_turns_a_borderline_winner_into_a_tie() -> None:
    rng = random.Random(4)
    order = [f"i{n:02d}" for n in range(12)]
    base = [rng.uniform(0, 1) for _ in order]
    m = {"A": {i: b + 0.3 + rng.gauss(0, 0.45) for i, b in zip(order, base)},
         "B": {i: b + rng.gauss(0, 0.45) for i, b in zip(order, base)},
         "C": {i: b + rng.gauss(0, 0.45) for i, b in zip(order, base)}}
    comps = [compare_paired(a, b, m[a], m[b], order, "higher", CFG) for a, b in (("A", "B"), ("A", "C"), ("B", "C"))]
    assert rank(list(m), comps)[0] == "A" and all(c.test.p < 0.05 for c in comps[:2])  # uncorrected: A wins
    adjusted = holm_row(comps, "higher", CFG)
    assert rank(list(m), adjusted)[0] == "tie" and all(c.test.p_holm >= 0.05 for c in adjusted[:2])
    row = _row(rate(_inp({k: {i: [2 + v] for i, v in s.items()} for k, s in m.items()}), CFG), "Story Coherence")
    assert row["winner"] == "tie" and all(c["p_holm"] is not None for c in row["comparisons"])
    assert "Holm" in row["test"]
    two = _row(rate(_inp({k: {i: [2 + v] for i, v in m[k].items()} for k in ("A", "B")}), CFG), "Story Coherence")
    assert two["winner"] == "A" and two["comparisons"][0].get("p_holm") is None  # one pair: nothing to correct


def test_a_row_whose_references_do_not_beat_degenerate_copies_is_not_informative(run_builder, tmp_path: Path) -> None:
    """A real suite where the degenerate copies tie the references: seq_rep_4 of shuffled sentences is the
    references' own (0 on every item)."""
    import run_folders

    from evalkit.pipeline import rate_run
    from evalkit.records import RatingRow
    from evalkit.report.text import winner_text

    mp = pytest.MonkeyPatch()
    mp.setattr(run_folders, "RATING", run_folders.RATING.replace('seq_rep_4 = ["looped", "shuffled"]',
                                                                 'seq_rep_4 = ["shuffled"]'))
    try:
        run = run_builder(tmp_path)
    finally:
        mp.undo()
    rating = dump_record(rate_run(run))
    row = _row(rating, "Genre Adherence")  # seq_rep_4 in the test suite
    assert row["check"]["informative"] is False and row["check"]["diff"] == 0
    assert row["check"]["reason"].startswith("not informative on this suite")
    assert row["winner"] is None and all(c["stars"] is None for c in row["models"].values())
    assert winner_text(RatingRow.model_validate(row)) == "not informative on this suite"
    assert _row(rating, "Story Coherence")["check"]["informative"] is True  # looped copies do lose
    from evalkit.pipeline import report_run

    md = report_run(run)[1].read_text(encoding="utf-8")
    assert "| **Genre Adherence** | n/a | n/a | not informative on this suite |" in md


def test_genre_stars_follow_the_calibrated_probability() -> None:
    assert genre_stars(0.2, 5) == 1.0 and genre_stars(0.9, 5) == 5.0 and genre_stars(0.99, 5) == 5.0
    assert genre_stars(0.25, 5) <= 2.0  # "can't tell" is never five stars
    assert genre_stars(0.55, 5) == pytest.approx(3.0)
    assert genre_stars(None, 5) is None and genre_stars(0.5, 1) is None


def test_leaderboard_tests_a_change_with_the_same_clustered_test(run_builder, tmp_path: Path) -> None:
    """Two runs of the same labels: the second swaps who loops, so parrot's Overall rises for real and
    storyteller's falls; both changes are tested with evalkit.significance.clustered_test over the shared items."""
    import shutil

    from evalkit.leaderboard import build
    from evalkit.pipeline import rate_run
    from evalkit.report.leaderboard import render

    first = run_builder(tmp_path / "a", run_id="20250101-000000-lb0001")
    second = run_builder(tmp_path / "b", labels=("parrot", "storyteller"), run_id="20250102-000000-lb0002")
    results = first.parent
    shutil.copytree(second, results / second.name)
    for run in (first, results / second.name):
        rate_run(run)
    lb = build(results, all_runs=True)
    latest = {e.model: e for e in lb.groups[0].entries if e.run_id == second.name}
    assert latest["parrot"].delta > 0 and latest["parrot"].delta_significant is True
    assert latest["storyteller"].delta < 0 and latest["storyteller"].delta_significant is True
    assert latest["parrot"].delta_mde is not None and latest["parrot"].delta_mde < latest["parrot"].delta
    assert '"delta_significant": true' in render(lb, "json")


def test_evalkit_score_writes_calibrated_stars_per_story(tmp_path: Path) -> None:
    from evalkit.stories import make_scorers, score_file

    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"id": "fox", "story": "A small fox found a lantern in the woods. It glowed and "
                                                      "showed her the long way home past the sleeping hills."}) + "\n"
                    + json.dumps({"id": "loop", "story": "The cat sat. " * 12}) + "\n", encoding="utf-8")
    rows = {r["id"]: r for r in score_file(path, None, make_scorers(["vocabulary"]))}
    cal = load_calibration("hanna-mtld")
    for r in rows.values():
        assert r["mtld_stars"] == pytest.approx(cal.stars([r["mtld"]])[0])
    assert rows["fox"]["mtld_stars"] > rows["loop"]["mtld_stars"]


def test_samples_each_timed_as_one_batch_are_one_reading_not_a_test() -> None:
    """Every item's samples came from the same batches (one per sample): item means are all equal, so a
    clustered test would see no spread; the margin rule decides instead."""
    items = [f"i{n}" for n in range(6)]
    per = {"A": {i: [{"seconds_per_story": s} for s in (10.0, 11.0, 9.5)] for i in items},
           "B": {i: [{"seconds_per_story": s} for s in (20.0, 21.0, 22.0)] for i in items}}
    row = _row(rate(RatingInput(["A", "B"], items, per, {}, {}, {}, {}), CFG), "Inference Speed")
    assert row["comparisons"][0]["ci_low"] is None and "one batch" in row["note"] and row["winner"] == "A"
