"""Stars, anchors and winners (issue 5): the pure rules, then rate_run on a hand-built run folder.

The run folder is written from fixed records (manifest, scores, summary); anchors are computed for
real from the smoke suite's reference stories with the cheap scorers (repetition, vocabulary).
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from evalkit.anchors import degenerate_stories, looped, shuffled
from evalkit.errors import EvalkitError
from evalkit.pipeline import rate_run
from evalkit.records import dump_record
from evalkit.rating import (
    ROWS,
    anchor_problem,
    anchor_score,
    compare_paired,
    compare_single,
    cut_score,
    load_rating_config,
    rank,
    round_half,
    stars,
)
from evalkit.records import (
    GenerationParams,
    Manifest,
    MemoryReading,
    ModelRun,
    ScoreRecord,
    SuiteRef,
    write_json,
)
from evalkit.scorers.text import sentences, words

REPO = Path(__file__).resolve().parent.parent
CFG = load_rating_config({})


# ---------------------------------------------------------------- the star rule

@pytest.mark.parametrize("one,five", [(0.2, 0.9), (0.9, 0.2), (10.0, 70.0)])
def test_anchor_score_is_monotone_bounded_and_hits_its_anchors(one: float, five: float) -> None:
    xs = np.linspace(min(one, five) - 1, max(one, five) + 1, 401)
    s = [anchor_score(float(x), one, five) for x in xs]
    assert all(1.0 <= v <= 5.0 for v in s)
    steps = np.diff(s)
    assert (steps >= -1e-12).all() if five > one else (steps <= 1e-12).all()  # better values never lose stars
    assert anchor_score(five, one, five) == 5.0 and anchor_score(one, one, five) == 1.0
    assert anchor_score((one + five) / 2, one, five) == pytest.approx(3.0)
    shown = {stars(v) for v in s}
    assert shown <= {1 + k / 2 for k in range(9)} and {1.0, 5.0} <= shown


def test_half_star_rounding_handles_ties_and_missing_values() -> None:
    assert [round_half(x) for x in (2.25, 2.2499, 2.75, 2.7499, 1.0, 5.0)] == [2.5, 2.0, 3.0, 2.5, 1.0, 5.0]
    # equal inputs always land on the same star, whichever model they belong to
    assert stars(anchor_score(0.55, 0.1, 0.9)) == stars(anchor_score(0.55, 0.1, 0.9)) == 3.5
    assert stars(None) is None and anchor_score(None, 0.1, 0.9) is None
    assert anchor_score(float("nan"), 0.1, 0.9) is None
    assert anchor_score(0.5, 0.4, 0.4) is None  # anchors that do not separate cannot rate
    assert anchor_problem(0.4, 0.4) and anchor_problem(0.9, 0.2, "higher") and anchor_problem(0.2, 0.9, "lower")
    assert anchor_problem(0.2, 0.9, "higher") is None and anchor_problem(None, 0.9) == "no anchor"


def test_cut_points_are_on_a_log_scale() -> None:
    cuts = CFG.cuts["seconds_per_story"]
    assert [cut_score(c, cuts) for c in cuts] == [5.0, 4.0, 3.0, 2.0, 1.0]
    assert cut_score(math.sqrt(cuts[0] * cuts[1]), cuts) == pytest.approx(4.5)  # geometric midpoint
    assert cut_score(0.01, cuts) == 5.0 and cut_score(1e6, cuts) == 1.0 and cut_score(None, cuts) is None
    xs = np.geomspace(0.1, 1000, 300)
    s = [cut_score(float(x), cuts) for x in xs]
    assert (np.diff(s) <= 1e-12).all() and min(s) == 1.0 and max(s) == 5.0


def _series(values: list[float]) -> dict[str, float]:
    return {f"i{n:02d}": v for n, v in enumerate(values)}


def test_paired_winner_needs_a_significant_difference() -> None:
    rng = random.Random(5)
    base = [rng.uniform(0.3, 0.7) for _ in range(30)]
    better = [b + 0.05 + rng.uniform(-0.01, 0.01) for b in base]
    noisy = [b + rng.uniform(-0.05, 0.05) for b in base]
    order = list(_series(base))
    c = compare_paired("a", "b", _series(better), _series(base), order, "higher", CFG)
    assert c.significant and c.better == "a" and c.ci_low > 0 and c.diff == pytest.approx(0.05, abs=0.01)
    lower = compare_paired("a", "b", _series(better), _series(base), order, "lower", CFG)
    assert lower.better == "b"  # lower-is-better metrics flip the winner, not the difference
    tie = compare_paired("a", "b", _series(noisy), _series(base), order, "higher", CFG)
    assert not tie.significant and tie.better is None and tie.ci_low < 0 < tie.ci_high
    # pairs only over stories both models have
    partial = compare_paired("a", "b", {"i00": 1.0, "i01": None}, {"i00": 0.0, "i01": 2.0}, order, "higher", CFG)
    assert partial is None  # one pair is not a test


def test_more_than_two_models_rank_by_pairwise_tests() -> None:
    rng = random.Random(7)
    base = [rng.uniform(0.3, 0.7) for _ in range(25)]
    models = {"A": _series([b + 0.2 for b in base]), "B": _series([b + 0.1 for b in base]), "C": _series(base)}
    order = list(models["C"])
    comps = [compare_paired(a, b, models[a], models[b], order, "higher", CFG)
             for a, b in (("A", "B"), ("A", "C"), ("B", "C"))]
    assert rank(["A", "B", "C"], comps) == ("A", ["A", "B", "C"], ["A"])
    models["B"] = _series([b + 0.2 + rng.uniform(-0.05, 0.05) for b in base])  # A and B now indistinguishable
    comps = [compare_paired(a, b, models[a], models[b], order, "higher", CFG)
             for a, b in (("A", "B"), ("A", "C"), ("B", "C"))]
    winner, ranking, leaders = rank(["A", "B", "C"], comps)
    assert winner == "tie" and set(leaders) == {"A", "B"} and ranking[-1] == "C"


def test_single_measurements_use_the_documented_margin() -> None:
    assert compare_single("a", "b", 2.0, 3.0, 0.10).better == "a"
    near = compare_single("a", "b", 2.0, 2.1, 0.10)
    assert not near.significant and near.ci_low is None and near.ci_high is None  # no test was run


# ---------------------------------------------------------------- degenerate text

def test_degenerate_texts_keep_length_order_or_genre_as_promised() -> None:
    from evalkit.suites import load_suite

    suite = load_suite(REPO / "suites" / "smoke")
    item = suite.items[0]
    loop = looped(item.story)
    first = sentences(item.story)[0]
    assert len(loop.split()) == len(item.story.split()) and loop.startswith(first + " " + first.split()[0])
    mixed = shuffled(item.story, 11)
    assert sorted(sentences(mixed)) == sorted(sentences(item.story)) and mixed != item.story
    assert shuffled(item.story, 11) == mixed
    kinds = degenerate_stories(suite.items, suite.items, seed=7)
    assert set(kinds) == {"looped", "shuffled", "off_genre"}  # smoke has no train split: no "copied"
    for orig, off in zip(suite.items, kinds["off_genre"]):
        source = next(i for i in suite.items if i.story == off.text)
        assert source.genre != orig.genre and off.genre == orig.genre and off.prompt == orig.prompt


# ---------------------------------------------------------------- a run folder

RATING = """
[rating.quality]
"Story Coherence" = "distinct_2"
"Genre Adherence" = "seq_rep_4"
"Creativity" = "creativity"
"Vocabulary Richness" = "mtld"

[rating.anchors]
distinct_2 = ["looped"]
seq_rep_4 = ["looped", "shuffled"]
mtld = ["looped"]
"""
# hand-picked per-story scores: A writes like the references, B loops; seq_rep_4 is a noisy tie
SCORES = {
    "A": {"distinct_2": [0.95, 0.93, 0.96, 0.94, 0.92], "seq_rep_4": [0.02, 0.05, 0.01, 0.03, 0.04],
          "mtld": [71.0, 66.0, 80.0, 58.0, 69.0], "seconds_per_story": [0.5, 0.6, 0.55, 0.52, 0.58]},
    "B": {"distinct_2": [0.30, 0.35, 0.28, 0.40, 0.33], "seq_rep_4": [0.05, 0.01, 0.04, 0.02, 0.03],
          "mtld": [20.0, 25.0, 18.0, 30.0, 22.0], "seconds_per_story": [5.0, 5.5, 4.8, 5.2, 5.1]},
}


def build_run(root: Path, scores: dict = SCORES) -> Path:
    from evalkit.scoring import SPEED_METRICS, summarize
    from evalkit.scorers.repetition import RepetitionScorer
    from evalkit.scorers.vocabulary import VocabularyScorer
    from evalkit.suites import load_suite

    suite_dir = root / "suite"
    suite_dir.mkdir(parents=True)
    toml = (REPO / "suites/smoke/suite.toml").read_text(encoding="utf-8").split("\n[regress", 1)[0].split("\n[rating", 1)[0]
    (suite_dir / "suite.toml").write_text(toml + RATING, encoding="utf-8")
    shutil.copy(REPO / "suites/smoke/stories.jsonl", suite_dir / "stories.jsonl")
    suite = load_suite(suite_dir)
    ids = [i.id for i in suite.split("test")]
    run = root / "results" / "run1"
    manifest = Manifest(
        run_id="run1", evalkit_version="0.1.0", python="3.11", status="complete",
        hardware={"cpu": "Test CPU", "cores": 2, "gpu": None}, params=GenerationParams(),
        suite=SuiteRef(name=suite.name, path=str(suite_dir), hash=suite.hash, split="test", item_ids=ids),
        models=[ModelRun(label="A", spec={}, model_key="a", memory=MemoryReading(kind="rss", peak_bytes=1_800_000_000),
                         training={"wall_time_s": 7200.0}),
                ModelRun(label="B", spec={}, model_key="b", memory=MemoryReading(kind="rss", peak_bytes=1_900_000_000))])
    write_json(run / "manifest.json", manifest)
    records = [ScoreRecord(model=m, item_id=i, scores={k: v[n] for k, v in scores[m].items()})
               for m in ("A", "B") for n, i in enumerate(ids)]
    (run / "scores.jsonl").write_text("".join(json.dumps(r.model_dump(mode="json", by_alias=True)) + "\n"
                                              for r in records), encoding="utf-8")
    metrics = {m.name: m for m in (*SPEED_METRICS, *RepetitionScorer.metrics, *VocabularyScorer.metrics)}
    write_json(run / "summary.json", summarize(manifest, records, metrics))
    return run


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run = build_run(tmp_path_factory.mktemp("rating"))
    return run, _rate(run)


def _rate(run: Path) -> dict:
    """rate_run's Rating as its file says it (absent keys left out)."""
    return dump_record(rate_run(run))


def test_rate_run_writes_the_seed_rows_with_anchors_from_the_suite(rated: tuple[Path, dict]) -> None:
    from evalkit.scorers.vocabulary import mtld
    from evalkit.suites import load_suite

    run, rating = rated
    assert json.loads((run / "rating.json").read_text()) == rating
    assert rating["schema"] == "evalkit.rating/1" and rating["models"] == ["A", "B"]
    assert [r["row"] for r in rating["rows"]] == list(ROWS)
    assert rating["device"] == "cpu (2 cores, Test CPU)" and rating["split"] == "test"
    refs = [i.story for i in load_suite(run.parent.parent / "suite").split("test")]
    a = rating["anchors"]["mtld"]
    assert a["five_star"] == pytest.approx(np.mean([mtld(words(t)) for t in refs]))
    assert a["one_star"] == pytest.approx(np.mean([mtld(words(looped(t))) for t in refs]))
    assert a["one_star"] < a["five_star"] and a["n"] == 5
    lower = rating["anchors"]["seq_rep_4"]  # lower is better: the 5-star level is the smaller number
    assert lower["five_star"] < lower["one_star"] and set(lower["degenerate"]) == {"looped", "shuffled"}


def test_rate_run_names_winners_only_where_the_difference_is_real(rated: tuple[Path, dict]) -> None:
    rows = {r["row"]: r for r in rated[1]["rows"]}
    coh = rows["Story Coherence"]
    assert coh["winner"] == "A" and coh["comparisons"][0]["ci_low"] > 0
    assert coh["models"]["A"]["stars"] > coh["models"]["B"]["stars"]
    assert rows["Genre Adherence"]["winner"] == "tie"  # noisy equal seq_rep_4
    assert rows["Genre Adherence"]["comparisons"][0]["significant"] is False
    assert rows["Vocabulary Richness"]["winner"] == "A"
    assert rows["Inference Speed"]["winner"] == "A" and rows["Inference Speed"]["models"]["A"]["stars"] == 5.0
    # Creativity was never scored: n/a everywhere, never a made-up value
    cre = rows["Creativity"]
    assert cre["winner"] is None and all(c["stars"] is None and c["value"] is None for c in cre["models"].values())
    # Training Time: only A was fine-tuned by evalkit (2 h = 4 stars on the default cuts)
    tr = rows["Training Time"]
    assert tr["models"]["A"]["value"] == 2.0 and tr["models"]["A"]["stars"] == 4.0
    assert tr["models"]["B"]["value"] is None and "training record" in tr["models"]["B"]["note"] and tr["winner"] is None
    mem = rows["Memory Efficiency"]  # 1.8 vs 1.9 GB: within the 10% margin, and no CI is claimed
    assert mem["winner"] == "tie" and mem["comparisons"][0]["ci_low"] is None


def test_overall_quality_is_the_weighted_star_mean_per_story(rated: tuple[Path, dict]) -> None:
    rating = rated[1]
    anchors, w = rating["anchors"], load_rating_config({}).weights
    used = {"Story Coherence": "distinct_2", "Genre Adherence": "seq_rep_4", "Vocabulary Richness": "mtld"}
    per_story = []
    for n in range(5):
        total = 0.0
        for row, metric in used.items():
            a = anchors[metric]
            x = SCORES["B"][metric][n]
            total += w[row] * min(5.0, max(1.0, 1 + 4 * (x - a["one_star"]) / (a["five_star"] - a["one_star"])))
        per_story.append(total / sum(w[r] for r in used))
    overall = rating["rows"][-1]
    assert overall["models"]["B"]["value"] == pytest.approx(np.mean(per_story))
    assert overall["winner"] == "A" and overall["models"]["A"]["stars"] > overall["models"]["B"]["stars"]


def test_rerating_reuses_stored_anchors_and_writes_identical_bytes(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    rate_run(run)  # a run scored before anchors were stored: they are scored once, into anchors.json
    first = (run / "rating.json").read_bytes()
    rate_run(run)
    assert (run / "rating.json").read_bytes() == first
    stored = json.loads((run / "anchors.json").read_text())
    stored["references"]["mtld"]["mean"] = 99.0  # a changed stored anchor must be reused, not rescored
    write_json(run / "anchors.json", stored)
    again = _rate(run)
    assert again["anchors"]["mtld"]["five_star"] == 99.0
    stored["kinds"].remove("shuffled")  # anchors stored before the rules asked for a kind: rescored
    del stored["degenerate"]["shuffled"]
    write_json(run / "anchors.json", stored)
    rebuilt = _rate(run)["anchors"]["mtld"]
    assert rebuilt["five_star"] != 99.0 and rebuilt["kinds"] == ["looped"]
    assert "shuffled" in json.loads((run / "anchors.json").read_text())["degenerate"]


def test_a_missing_suite_gives_na_stars_with_a_reason_not_a_crash(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    shutil.rmtree(tmp_path / "suite")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["suite"]["name"] = "no-such-suite"  # neither its folder nor its name can be found
    write_json(run / "manifest.json", manifest)
    rating = _rate(run)
    voc = rating["rows"][3]  # mtld: rated by both the run's [rating] and the defaults
    assert voc["models"]["A"]["value"] is not None and voc["models"]["A"]["stars"] is None
    assert "no earlier rating" in voc["models"]["A"]["note"] and voc["winner"] == "A"  # the test still runs
    assert rating["rows"][5]["models"]["A"]["stars"] == 5.0  # speed needs no anchors
    (run / "scores.jsonl").unlink()
    with pytest.raises(EvalkitError, match="no scores.jsonl"):
        rate_run(run)


def test_speed_timed_as_one_batch_is_one_measurement_not_a_paired_test(tmp_path: Path) -> None:
    one_batch = {m: {**v, "seconds_per_story": [x] * 5} for m, v, x in (("A", SCORES["A"], 2.0), ("B", SCORES["B"], 2.1))}
    speed = _rate(build_run(tmp_path, one_batch))["rows"][5]
    assert "one batch" in speed["note"] and speed["comparisons"][0]["ci_low"] is None
    assert speed["winner"] == "tie"  # 5% apart: inside the 10% margin, and no CI pretends otherwise
