"""Issue 16, item 6: each model generates in a fresh child process, so its memory figure is the same
whatever model ran before it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.records import load_manifest
from evalkit.records import model_measurements as measurements

PARAMS = {"max_new_tokens": 12, "do_sample": False}


def _figures(run: Path) -> dict[str, float]:
    return {m.label: measurements(m).peak_memory_gb for m in load_manifest(run).models}


def test_memory_figures_do_not_depend_on_the_order_of_the_models(tiny_gpt2_dir, tiny_llama_dir, tmp_path):
    from evalkit.runner import run_compare

    a, b = str(tiny_gpt2_dir), str(tiny_llama_dir)
    first = run_compare([a, b], suite="smoke", results_dir=tmp_path / "ab", params=PARAMS, score=False, isolate=True)
    second = run_compare([b, a], suite="smoke", results_dir=tmp_path / "ba", params=PARAMS, score=False, isolate=True)
    ab, ba = _figures(first), _figures(second)
    print("peak memory GB, gpt2 first:", ab, "llama first:", ba)
    labels = {Path(a).name, Path(b).name}
    assert set(ab) == set(ba) == labels
    for label in ab:
        assert ab[label] > 0 and ba[label] > 0
        assert abs(ab[label] - ba[label]) <= 0.10 * max(ab[label], ba[label]), (label, ab, ba)
    # the parent kept the run: every story reached the run's file and the generation cache
    lines = (first / "generations.jsonl").read_text().splitlines()
    items = load_manifest(first).suite.item_ids
    assert sorted((json.loads(x)["model"], json.loads(x)["item_id"]) for x in lines) == \
        sorted((m, i) for m in labels for i in items)
    assert all(m.n_generated == len(items) and m.memory.kind == "rss" for m in load_manifest(first).models)


def test_a_cached_model_starts_no_process_and_a_failing_one_reports_why(tiny_gpt2_dir, tmp_path, monkeypatch):
    import multiprocessing

    from evalkit.errors import EvalkitError
    from evalkit.runner import run_compare

    results = tmp_path / "results"
    run_compare([str(tiny_gpt2_dir)], suite="smoke", results_dir=results, params=PARAMS, score=False, isolate=True)

    def no_process(*a, **kw):
        raise AssertionError("started a process for a model with nothing to generate")

    with monkeypatch.context() as m:
        m.setattr(multiprocessing, "get_context", no_process)
        run = run_compare([str(tiny_gpt2_dir)], suite="smoke", results_dir=results, params=PARAMS, score=False,
                          isolate=True)
    assert load_manifest(run).models[0].n_cached == len(load_manifest(run).suite.item_ids)

    broken = tmp_path / "broken"
    broken.mkdir()
    for f in Path(tiny_gpt2_dir).iterdir():
        if f.suffix != ".safetensors" and f.is_file():
            (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(Exception) as here:  # the same failure in this process, for comparison
        run_compare([str(broken)], suite="smoke", results_dir=tmp_path / "here", params=PARAMS, score=False)
    with pytest.raises(Exception) as there:
        run_compare([str(broken)], suite="smoke", results_dir=results, params=PARAMS, score=False, isolate=True)
    assert type(there.value) is type(here.value) or isinstance(there.value, EvalkitError)
    assert str(here.value) in str(there.value)


def test_the_child_runs_with_the_parents_thread_count(tiny_gpt2_dir, tmp_path, monkeypatch):
    """A real spawned child reports torch.get_num_threads(): the count the parent chose, not its cores."""
    import torch

    from evalkit import threads
    from evalkit.runner import run_compare

    for var in (*threads.COUNT_VARS, "OMP_WAIT_POLICY", "TOKENIZERS_PARALLELISM", threads.ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(threads, "_current", None)
    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            policy = threads.configure(n)
            run = run_compare([str(tiny_gpt2_dir)], suite="smoke", results_dir=tmp_path / f"t{n}", params=PARAMS,
                              score=False, isolate=True)
            manifest = load_manifest(run)
            assert manifest.threads == policy.record() and manifest.threads["threads"] == policy.threads
            assert manifest.models[0].torch_threads == policy.threads
    finally:
        torch.set_num_threads(before)
