"""Fitting calibrations from a ratings CSV: reading it, scoring through the cache, writing the JSON."""

import csv

import numpy as np
import pytest

from evalkit.calibration import load_calibration
from evalkit.calibration_fit import calibrate_ratings_file, read_ratings, summary_lines
from evalkit.errors import EvalkitError

HEADER = ["story_id", "model", "prompt_id", "prompt", "story", "Coherence", "Complexity"]
WORDS = ("river lantern orchard whisper copper meadow thunder pebble harbor violet cinder marble "
         "falcon willow ember glacier saddle quiver tundra nectar basalt juniper").split()


def write_ratings(path, n_prompts=12, systems=("loop", "plain", "rich")):
    """Stories whose vocabulary grows with the system, rated for Complexity accordingly."""
    rng = np.random.default_rng(0)
    rows = []
    for p in range(n_prompts):
        for k, system in enumerate(systems):
            vocab = WORDS[: 3 + 8 * k]
            text = " ".join(rng.choice(vocab, size=80)) + "."
            rows.append([len(rows), system, p, f"prompt {p}", text, 3, 1 + 2 * k])
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return rows


def test_a_ratings_file_is_scored_fitted_and_written(tmp_path):
    src = tmp_path / "mine.csv"
    write_ratings(src)
    cache = tmp_path / "cache"
    cals = calibrate_ratings_file(src, tmp_path / "out", targets={"mtld": ("vocabulary", "Complexity")},
                                  cache_dir=cache)
    cal = load_calibration(tmp_path / "out" / "mine-mtld.json")
    assert cal == cals["mtld"]
    assert cal.data.name == "mine.csv" and cal.data.rows == 36 and cal.data.groups == 12
    assert cal.data.criterion == "Complexity" and cal.direction == "higher" and cal.scorer_fingerprint
    by_system = {r.system: r for r in cal.cv.systems}
    assert by_system["loop"].predicted < by_system["plain"].predicted < by_system["rich"].predicted
    assert "Complexity <- mtld" in summary_lines(cals)[0]
    # the values are cached per story: a refit reads them instead of scoring again
    (cache_file,) = cache.glob("vocabulary.jsonl")
    stamp = cache_file.stat().st_mtime_ns
    again = calibrate_ratings_file(src, tmp_path / "out2", targets={"mtld": ("vocabulary", "Complexity")},
                                   cache_dir=cache)
    assert cache_file.stat().st_mtime_ns == stamp
    assert again["mtld"].x == cal.x


def test_missing_columns_and_non_numeric_ratings_are_named(tmp_path):
    src = tmp_path / "r.csv"
    write_ratings(src)
    with pytest.raises(EvalkitError, match="missing column\\(s\\) Surprise"):
        read_ratings(src, ["Coherence", "Surprise"])
    text = src.read_text().splitlines()
    text[3] = text[3].rsplit(",", 2)[0] + ",good,3"
    src.write_text("\n".join(text) + "\n")
    with pytest.raises(EvalkitError, match="non-numeric Coherence rating on line\\(s\\) 4"):
        read_ratings(src, ["Coherence"])
    with pytest.raises(EvalkitError, match="no such ratings file"):
        read_ratings(tmp_path / "nope.csv", ["Coherence"])


def test_one_system_only_is_refused(tmp_path):
    src = tmp_path / "r.csv"
    write_ratings(src, n_prompts=40, systems=("only",))
    with pytest.raises(EvalkitError, match="one system only"):
        calibrate_ratings_file(src, tmp_path, targets={"mtld": ("vocabulary", "Complexity")},
                               cache_dir=tmp_path / "c")
