"""`evalkit validate` end to end on a ratings file the test writes, with planted scorers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from validate_helpers import run_evalkit, write_ratings


def _result(rec: dict, metric: str, criterion: str = "Coherence") -> dict:
    return next(r for r in rec["results"] if r["metric"] == metric and r["criterion"] == criterion)


def test_planted_metrics_get_the_tau_they_must(tmp_path: Path, ratings_csv: Path):
    log = tmp_path / "scored.log"
    p = run_evalkit(["validate", ratings_csv, "--scorers", "planted:Planted", "--bootstrap", "200",
                     "--cache-dir", tmp_path / "cache", "-o", tmp_path / "out"], tmp_path, log)
    assert p.returncode == 0, p.stderr
    rec = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert rec["human_system"] == "Human" and rec["n_groups"] == 8 and rec["criteria"] == ["Coherence", "Surprise"]
    same, neg, rnd = (_result(rec, m) for m in ("planted", "planted_neg", "planted_random"))
    for key in ("pooled_tau", "group_tau", "system_tau", "pooled_spearman", "system_spearman"):
        assert same["machine"][key]["value"] == pytest.approx(1.0), key
        assert neg["machine"][key]["value"] == pytest.approx(-1.0), key
    assert same["with_human"]["pooled_tau"]["value"] == pytest.approx(1.0)
    assert same["machine"]["pooled_tau"]["low"] == pytest.approx(1.0)  # every bootstrap draw agrees
    assert same["human_rank"] == 1 and same["people_rank_human"] == 1
    assert neg["human_rank"] == 1  # lower is better for planted_neg: the human stories still come first
    assert _result(rec, "planted", "Surprise")["machine"]["pooled_tau"]["value"] == pytest.approx(-1.0)
    r = rnd["machine"]["pooled_tau"]
    assert abs(r["value"]) < 0.3 and r["low"] < 0 < r["high"]
    md = (tmp_path / "out" / "validation.md").read_text()
    assert "| planted | +1.000 [+1.00, +1.00]" in md and "Pooled τ" in md
    assert "planted" in p.stdout and "pooled τ" in p.stdout  # the rich table
    assert log.read_text().count("planted\n") == 40


def test_second_run_with_a_new_scorer_scores_only_that_scorer(tmp_path: Path, ratings_csv: Path):
    log = tmp_path / "scored.log"
    args = ["validate", ratings_csv, "--bootstrap", "50", "--cache-dir", tmp_path / "cache", "-o", tmp_path / "out"]
    assert run_evalkit(args + ["--scorers", "planted:Planted"], tmp_path, log).returncode == 0
    assert log.read_text().splitlines() == ["planted"] * 40
    p = run_evalkit(args + ["--scorers", "planted:Planted,planted:Length"], tmp_path, log)
    assert p.returncode == 0, p.stderr
    assert log.read_text().splitlines() == ["planted"] * 40 + ["length"] * 40  # planted came from the cache
    rec = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert _result(rec, "planted")["machine"]["system_tau"]["value"] == pytest.approx(1.0)
    assert any(r["metric"] == "length_chars" for r in rec["results"])


def test_cv_adds_cross_validated_combinations(tmp_path: Path, ratings_csv: Path):
    p = run_evalkit(["validate", ratings_csv, "--scorers", "planted:Planted", "--bootstrap", "50", "--cv", "4",
                     "--no-cache", "-o", tmp_path / "out"], tmp_path)
    assert p.returncode == 0, p.stderr
    rec = json.loads((tmp_path / "out" / "validation.json").read_text())
    cv = _result(rec, "cv:planted:Coherence")
    assert cv["cross_validated"] and cv["machine"]["pooled_tau"]["value"] > 0.9
    fit = next(f for f in rec["fitted"] if f["name"] == "cv:planted:Coherence")
    assert fit["folds"] == 4 and len(fit["alphas"]) == 4
    assert set(fit["features"]) == {"planted_neg", "planted_random"}  # the scorer's own mix ("planted") is never a feature
    assert not (tmp_path / "results").exists()  # --no-cache stores nothing


def _bad(tmp_path: Path, path: Path, *extra: str) -> str:
    p = run_evalkit(["validate", path, "--scorers", "planted:Planted", "--no-cache", "-o", tmp_path / "out", *extra], tmp_path)
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def test_bad_ratings_files_exit_2_with_one_line(tmp_path: Path):
    def drop_col(rows):
        return [{k: v for k, v in r.items() if k != "model"} for r in rows]

    def text_rating(rows):
        rows[3]["Coherence"] = "good"
        rows[7]["Coherence"] = "n/a"
        return rows

    assert "'model' (--system-col)" in _bad(tmp_path, write_ratings(tmp_path / "a.csv", rows_hook=drop_col))
    line = _bad(tmp_path, write_ratings(tmp_path / "b.csv", rows_hook=text_rating))
    assert "'Coherence' is not numeric on row(s) 5, 9" in line
    assert "only one system" in _bad(tmp_path, write_ratings(tmp_path / "c.csv", systems=["Alpha"]))
    assert "2 group(s)" in _bad(tmp_path, write_ratings(tmp_path / "d.csv", n_groups=2))
    assert "no such file" in _bad(tmp_path, tmp_path / "missing.csv")
    assert "'Nope' (--criterion)" in _bad(tmp_path, write_ratings(tmp_path / "e.csv"), "--criterion", "Nope")
    assert "--human-system 'Robot'" in _bad(tmp_path, write_ratings(tmp_path / "f.csv"), "--human-system", "Robot")


def test_column_mapping_for_a_users_own_file(tmp_path: Path):
    def rename(rows):
        return [{"text": r["story"], "writer": r["model"], "topic": r["prompt_id"], "score": r["Coherence"]} for r in rows]

    path = write_ratings(tmp_path / "own.csv", rows_hook=rename)
    p = run_evalkit(["validate", path, "--story-col", "text", "--system-col", "writer", "--group-col", "topic",
                     "--criterion", "score", "--human-system", "Human", "--scorers", "planted:Planted",
                     "--bootstrap", "50", "--no-cache", "-o", tmp_path / "out"], tmp_path)
    assert p.returncode == 0, p.stderr
    rec = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert rec["criteria"] == ["score"] and _result(rec, "planted", "score")["machine"]["system_tau"]["value"] == pytest.approx(1.0)
