"""A reader's calibration profile, end to end with a tiny random-weight LM: `evalkit validate --fit` fits
and stores it, `evalkit score --scoring-lm` loads it and its calibration makes the coherence stars; the
bad inputs (no such reader or profile, a profile for other weights, one system) exit 2 with one line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.profiles import load_profile
from evalkit.scorers.coherence import LM_PARTS, PARTS, combine
from evalkit.scorers.lm import weights_fingerprint

SENTENCES = ["Mia found a small boat by the river.", "She pushed it into the water and climbed in.",
             "The current carried her past the old mill.", "A heron watched from the reeds.",
             "At the bend she saw her brother waving.", "He threw her a rope and pulled the boat ashore.",
             "They walked home as the sun went down.", "Their mother had soup waiting on the stove."]
SYSTEMS = {"Human": 4.4, "Writer": 3.2, "Looper": 1.6}


def _story(system: str, g: int) -> str:
    if system == "Looper":  # a loop: one sentence again and again
        return " ".join([SENTENCES[g % len(SENTENCES)]] * 6)
    start = g % 3 if system == "Human" else (g + 4) % 5
    return " ".join(SENTENCES[start:start + 5] if system == "Human" else SENTENCES[start:start + 3][::-1])


def write_ratings(path: Path, systems=SYSTEMS, n_groups: int = 10) -> Path:
    rows = []
    for g in range(n_groups):
        for k, (system, base) in enumerate(systems.items()):
            rows.append({"story_id": f"{g}-{k}", "model": system, "prompt_id": str(g),
                         "prompt": "A child finds a boat on a river.", "story": _story(system, g),
                         "Coherence": round(base + 0.1 * ((g * 3 + k) % 4), 2)})
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def evalkit(args, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EVALKIT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tiny_gpt2_dir):
    """A profile fitted with `evalkit validate --fit` for the tiny LM, stored in the user folder."""
    root = tmp_path_factory.mktemp("profile")
    home = root / "home"
    ratings = write_ratings(root / "ratings.csv")
    p = evalkit(["validate", ratings, "--fit", "--scoring-lm", tiny_gpt2_dir, "--profile", "tiny", "--bootstrap",
                 "20", "--cache-dir", root / "cache", "-o", root / "out"], root, home)
    assert p.returncode == 0, p.stderr
    return root, home, home / "profiles" / "tiny.json", p


def test_fit_stores_a_profile_for_the_reader(fitted, tiny_gpt2_dir):
    root, home, path, p = fitted
    prof = load_profile(path)
    assert prof.name == "tiny" and prof.reader.fingerprint == weights_fingerprint(tiny_gpt2_dir)
    assert not prof.reader.default and Path(prof.reader.path) == Path(tiny_gpt2_dir).resolve()
    assert prof.data.name == "ratings.csv" and prof.data.stories == 30 and prof.data.machine_stories == 20
    assert prof.data.prompts == 10 and prof.data.systems == sorted(SYSTEMS) and prof.data.human_system == "Human"
    assert set(prof.norms) == set(LM_PARTS) and all(sd > 0 for _, sd in prof.norms.values())
    assert prof.cv.folds == 5 and 0 <= prof.cv.mae < 3 and prof.calibration.cv.mae == prof.cv.mae
    # the loops read as the least coherent: held-out stars rank machine stories with people
    assert prof.cv.pooled_tau is not None and prof.cv.pooled_tau > 0.3
    assert f"wrote {path}" in p.stderr.replace("\n", "") or "wrote" in p.stderr


def test_score_with_the_profile_gives_the_stars_its_calibration_predicts(fitted, tiny_gpt2_dir):
    root, home, path, _ = fitted
    prof = load_profile(path)
    stories = root / "stories.jsonl"
    stories.write_text("".join(json.dumps({"id": f"s{i}", "story": _story(s, i), "prompt": "A boat."}) + "\n"
                               for i, s in enumerate(SYSTEMS)), encoding="utf-8")
    got = {}
    for arg in ("tiny", tiny_gpt2_dir):  # by the profile's name, and by the reader (found by its weights)
        p = evalkit(["score", stories, "--suite", "none", "--scorers", "coherence", "--scoring-lm", arg,
                     "-o", root / "scored.jsonl"], root, home)
        assert p.returncode == 0, p.stderr
        assert "profile tiny" in p.stderr
        rows = [json.loads(x) for x in (root / "scored.jsonl").read_text().splitlines()]
        for r in rows:
            parts = {k: r[k] for k in PARTS}
            assert r["coherence"] == pytest.approx(combine(parts, prof.norms))
            assert r["coherence_stars"] == pytest.approx(prof.calibration.stars([r["coherence"]])[0])
        got[str(arg)] = [r["coherence_stars"] for r in rows]
    assert len(set(map(tuple, got.values()))) == 1
    stars = got["tiny"]
    assert stars[2] < stars[0]  # the loop gets fewer stars than the human-like story


def _one_line_exit_2(p: subprocess.CompletedProcess, *words: str) -> None:
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_bad_readers_and_profiles_exit_2_with_one_line(fitted, tmp_path):
    root, home, path, _ = fitted
    stories = tmp_path / "s.jsonl"
    stories.write_text(json.dumps({"story": _story("Human", 1)}) + "\n", encoding="utf-8")
    score = ["score", stories, "--suite", "none", "--scorers", "coherence", "--scoring-lm"]
    _one_line_exit_2(evalkit(score + ["no-such-reader"], tmp_path, home), "no-such-reader")
    _one_line_exit_2(evalkit(score + [tmp_path / "missing.json"], tmp_path, home), "no such profile")
    other = json.loads(path.read_text())
    other["reader"]["fingerprint"] = "0" * 16  # a profile fitted for other weights
    (tmp_path / "other.json").write_text(json.dumps(other))
    _one_line_exit_2(evalkit(score + [tmp_path / "other.json"], tmp_path, home), "fitted for reader")
    one = write_ratings(tmp_path / "one.csv", {"Writer": 3.0})
    _one_line_exit_2(evalkit(["validate", one, "--fit", "--scoring-lm", root / "home" / "profiles" / "tiny.json"],
                             tmp_path, home), "one system")
