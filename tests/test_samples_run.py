"""--samples on a tiny real GPT-2: N stories per item, each sample cached under its own key, so raising
N generates only the new samples; seeds differ across samples and are the same on every run."""

from __future__ import annotations

import json
import subprocess
import sys

from evalkit.records import GenerationRecord, ScoreRecord, iter_jsonl, load_manifest
from evalkit.runner import run_compare
from evalkit.sampling import sample_seed

FAST = {"max_new_tokens": 8, "seed": 11}
SCORERS = ["repetition", "vocabulary"]


def _run(model, results_dir, samples, rate=False):
    return run_compare([model], suite="smoke", results_dir=results_dir, scorers=SCORERS, rate=rate,
                       params=FAST, samples=samples)


def test_samples_are_cached_per_sample_and_raising_n_generates_only_the_new_ones(tiny_gpt2_dir, results_dir):
    two = _run(str(tiny_gpt2_dir), results_dir, 2)
    m = load_manifest(two)
    assert m.samples == 2 and (m.models[0].n_generated, m.models[0].n_cached) == (10, 0)
    gens = list(iter_jsonl(two / "generations.jsonl", GenerationRecord))
    assert sorted({g.sample for g in gens}) == [0, 1] and len({(g.item_id, g.sample) for g in gens}) == 10
    assert {g.seed for g in gens if g.sample == 0} == {11} and {g.seed for g in gens if g.sample == 1} == {sample_seed(11, 1)}
    assert len({g.key for g in gens}) == 10  # the sample index is in the cache key

    three = _run(str(tiny_gpt2_dir), results_dir, 3, rate=True)
    mr = load_manifest(three).models[0]
    assert (mr.n_generated, mr.n_cached) == (5, 10)  # only sample 2 was generated
    gens3 = list(iter_jsonl(three / "generations.jsonl", GenerationRecord))
    old = {(g.item_id, g.sample): g.text for g in gens}
    assert all(old[(g.item_id, g.sample)] == g.text for g in gens3 if g.sample < 2)
    assert {g.seed for g in gens3 if g.sample == 2} == {sample_seed(11, 2)} and len(set(map(sample_seed, [11] * 3, range(3)))) == 3
    scores = list(iter_jsonl(three / "scores.jsonl", ScoreRecord))
    assert sorted((s.item_id, s.sample) for s in scores) == sorted((g.item_id, g.sample) for g in gens3)
    assert json.loads((three / "rating.json").read_text())["samples"] == 3

    again = load_manifest(_run(str(tiny_gpt2_dir), results_dir, 3)).models[0]
    assert (again.n_generated, again.n_cached) == (0, 15)  # resumed entirely from the cache
    one = load_manifest(_run(str(tiny_gpt2_dir), results_dir, None)).models[0]
    assert (one.n_generated, one.n_cached) == (0, 5)  # one sample: sample 0's key is the old key


def test_bad_samples_exit_2_with_one_line(tmp_path):
    for bad in ("0", "-2", "2.5", "many"):
        p = subprocess.run([sys.executable, "-m", "evalkit.cli", "compare", "x", "--samples", bad,
                            "--results-dir", str(tmp_path / "r")], capture_output=True, text=True)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--samples" in p.stderr, (bad, p.stderr)
        assert not (tmp_path / "r").exists()


def test_suite_generation_samples_is_checked_and_used(tmp_path):
    import shutil
    from pathlib import Path

    import pytest

    from evalkit.errors import EvalkitError
    from evalkit.suites import load_suite

    smoke = Path(__file__).resolve().parent.parent / "suites" / "smoke"
    for value, ok in (("0", False), ('"two"', False), ("3", True)):
        suite = tmp_path / f"s{value.strip(chr(34))}"
        shutil.copytree(smoke, suite)
        toml = (suite / "suite.toml").read_text(encoding="utf-8").replace("[generation]", f"[generation]\nsamples = {value}", 1)
        (suite / "suite.toml").write_text(toml, encoding="utf-8")
        if ok:
            s = load_suite(suite)
            assert s.generation["samples"] == 3
            from evalkit.generate import generation_params as _params

            assert "samples" not in _params(s, None).model_dump()  # not a sampler setting: cache keys unchanged
        else:
            with pytest.raises(EvalkitError, match=r"\[generation\] samples must be a whole number >= 1"):
                load_suite(suite)
