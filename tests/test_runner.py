"""The run and its cache, on a tiny real GPT-2 (no scoring models needed: repetition + vocabulary)."""

import json

import pytest

from evalkit.errors import EvalkitError, WeightsMissing
from evalkit.records import GenerationRecord, iter_jsonl, load_manifest
from evalkit.runner import run_compare

FAST = {"max_new_tokens": 8}
SCORERS = ["repetition", "vocabulary"]


def run(models, results_dir, **kw):
    kw.setdefault("params", FAST)
    return run_compare(models, suite="smoke", results_dir=results_dir, scorers=SCORERS, rate=False, **kw)


def test_run_writes_every_record_and_rerun_comes_from_cache(tiny_gpt2_dir, results_dir):
    first = run([str(tiny_gpt2_dir)], results_dir)
    m = load_manifest(first)
    assert m.status == "complete" and m.suite.name == "smoke" and m.suite.split == "test"
    assert m.libraries["transformers"] and m.python and m.hardware["cores"]
    mr = m.models[0]
    assert (mr.n_generated, mr.n_cached) == (5, 0) and mr.load_s > 0 and mr.memory.kind == "rss"
    gens = list(iter_jsonl(first / "generations.jsonl", GenerationRecord))
    assert sorted(g.item_id for g in gens) == sorted(m.suite.item_ids)
    scores = [json.loads(line) for line in (first / "scores.jsonl").read_text().splitlines()]
    assert len(scores) == 5 and all("seq_rep_4" in s["scores"] and "seconds_per_story" in s["scores"] for s in scores)
    summary = json.loads((first / "summary.json").read_text())
    assert summary["models"][mr.label]["seconds_per_story"]["n"] == 5

    second = run([str(tiny_gpt2_dir)], results_dir)
    assert second != first
    mr2 = load_manifest(second).models[0]
    assert (mr2.n_generated, mr2.n_cached) == (0, 5)
    assert mr2.memory == mr.memory  # taken from the cache: no model load
    texts = lambda d: sorted((g.item_id, g.text) for g in iter_jsonl(d / "generations.jsonl", GenerationRecord))
    assert texts(first) == texts(second)


def test_changed_params_or_weights_regenerate(tiny_gpt2_dir, results_dir):
    run([str(tiny_gpt2_dir)], results_dir)
    again = load_manifest(run([str(tiny_gpt2_dir)], results_dir, params={"max_new_tokens": 9})).models[0]
    assert again.n_generated == 5
    batch_only = load_manifest(run([str(tiny_gpt2_dir)], results_dir, params={**FAST, "batch_size": 2})).models[0]
    assert batch_only.n_cached == 5  # batch size is a speed knob, not part of the key


def test_missing_weights_fail_before_anything_runs(tiny_gpt2_dir, results_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(WeightsMissing, match=r"distilgpt2-base: weights of distilgpt2 are not in the local"):
        run([str(tiny_gpt2_dir), "distilgpt2-base"], results_dir)
    assert not results_dir.exists() or not any(p.name[0].isdigit() for p in results_dir.iterdir())


def test_same_model_twice_is_refused(tiny_gpt2_dir, results_dir):
    with pytest.raises(EvalkitError, match="named twice"):
        run([str(tiny_gpt2_dir), str(tiny_gpt2_dir)], results_dir)


def test_folder_named_like_a_preset_is_labelled_by_its_path(tiny_gpt2_dir, tmp_path):
    import shutil

    from evalkit.generate import resolve_candidates

    folder = tmp_path / "adapters" / "distilgpt2-base"
    shutil.copytree(tiny_gpt2_dir, folder)
    labels = [c.spec.label for c in resolve_candidates(["distilgpt2-base", str(folder)])]
    assert labels == ["distilgpt2-base", str(folder)]
