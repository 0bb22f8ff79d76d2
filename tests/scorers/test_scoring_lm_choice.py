"""No scorer grades its own text (issue 13, item 5): when a candidate is built on the scoring LM's weights,
coherence is scored by another LM, the manifest records which, and with no other LM left the run and
the report say so. Tiny random-weight models stand in for SmolLM2 and the alternative."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit.scorers.lm import choose_scoring_lm, weights_fingerprint


def _spec(path: Path, label: str = "cand", **extra) -> tuple[str, dict]:
    return label, {"label": label, "backend": "hf", "options": {"source": str(path), **extra}}


@pytest.fixture(scope="module")
def gpt2_copy(tiny_gpt2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same weights in another folder: what a user's own copy of the scoring LM looks like."""
    dst = tmp_path_factory.mktemp("copy") / "my-lm"
    shutil.copytree(tiny_gpt2_dir, dst)
    return dst


def test_fingerprint_follows_the_weights_not_the_path(tiny_gpt2_dir, tiny_llama_dir, gpt2_copy, tmp_path):
    assert weights_fingerprint(tiny_gpt2_dir) == weights_fingerprint(gpt2_copy) is not None
    assert weights_fingerprint(tiny_llama_dir) != weights_fingerprint(tiny_gpt2_dir)
    tuned = tmp_path / "tuned"
    shutil.copytree(tiny_gpt2_dir, tuned)
    import torch
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(tuned)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.01)
    m.save_pretrained(tuned)
    assert weights_fingerprint(tuned) != weights_fingerprint(tiny_gpt2_dir)  # a fine-tune is another model
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(range(256)) * 10)
    deq = tmp_path / "deq"
    deq.mkdir()
    (deq / "model.safetensors").write_bytes(b"other bytes")
    (deq / "SOURCE_GGUF.txt").write_text(f"{gguf}\n")
    assert weights_fingerprint(deq) == weights_fingerprint(gguf)  # a dequantized copy is its GGUF
    assert weights_fingerprint(tmp_path / "missing") is None


def test_a_candidate_on_the_scoring_lm_gets_another_lm(tiny_gpt2_dir, tiny_llama_dir, gpt2_copy):
    opts = {"path": str(gpt2_copy), "alternatives": [str(tiny_llama_dir)]}
    info, lm = choose_scoring_lm([_spec(tiny_gpt2_dir, "mine")], opts)
    assert lm == {"path": str(tiny_llama_dir)} and info.name == tiny_llama_dir.name
    assert info.self_graded == [] and info.warning is None
    assert "mine" in info.passed_over[0]
    # a candidate that is not the scoring LM changes nothing
    info, lm = choose_scoring_lm([_spec(tiny_llama_dir, "other")], opts)
    assert lm == {"path": str(gpt2_copy)} and info.passed_over == []


def test_an_adapter_on_the_scoring_lm_counts_as_its_model(tiny_llama_dir, tiny_gpt2_dir, tiny_lora_dir):
    info, lm = choose_scoring_lm([_spec(tiny_llama_dir, "tuned", adapter=str(tiny_lora_dir))],
                                 {"path": str(tiny_llama_dir), "alternatives": [str(tiny_gpt2_dir)]})
    assert lm["path"] == str(tiny_gpt2_dir) and "base of its adapter" in info.passed_over[0]


def test_no_other_lm_warns_and_keeps_the_first(tiny_gpt2_dir, gpt2_copy, tmp_path):
    info, lm = choose_scoring_lm([_spec(tiny_gpt2_dir, "mine")],
                                 {"path": str(gpt2_copy), "alternatives": [str(tmp_path / "nothing-here")]})
    assert lm == {"path": str(gpt2_copy)}
    assert info.self_graded == ["mine"] and "graded by its own model" in info.warning
    assert any("nothing-here" in p for p in info.passed_over)


@pytest.mark.parametrize("alternatives", ["llama", "none"])
def test_the_run_records_the_scoring_lm(alternatives, tiny_gpt2_dir, tiny_llama_dir, gpt2_copy, results_dir, capsys):
    from evalkit.pipeline import RunContext, ensure_rated, ensure_reported, ensure_scored
    from evalkit.records import load_manifest
    from evalkit.runner import run_compare

    alts = [str(tiny_llama_dir)] if alternatives == "llama" else []
    suite = results_dir.parent / "suite"  # the smoke suite, its scoring LM set in suite.toml [scoring.lm]
    shutil.copytree(Path(__file__).resolve().parents[2] / "suites" / "smoke", suite)
    with open(suite / "suite.toml", "a", encoding="utf-8") as f:
        f.write(f"\n[scoring.lm]\npath = {json.dumps(str(gpt2_copy))}\nalternatives = {json.dumps(alts)}\n")
    run = run_compare([str(tiny_gpt2_dir)], suite=str(suite), results_dir=results_dir, scorers=["coherence"],
                      params={"max_new_tokens": 16, "do_sample": False}, score=False)
    ctx = RunContext.load(run, scorer_names=["coherence"])
    ensure_scored(ctx, force=True)
    ensure_reported(ctx, ensure_rated(ctx, force=True))
    stored = load_manifest(run).scoring_lm
    anchors = json.loads((run / "anchors.json").read_text())  # the suite's stories, scored with the run's LM
    assert anchors["references"]["coherence"]["mean"] is not None
    report = (run / "report.md").read_text()
    err = capsys.readouterr().err
    if alternatives == "llama":
        assert ctx.scoring.shared["scoring_lm"].source == str(tiny_llama_dir)
        assert stored.name == tiny_llama_dir.name and stored.warning is None and stored.self_graded == []
        assert f"Coherence LM: {tiny_llama_dir.name}" in report and "WARNING" not in report
        assert "graded by its own model" not in err
    else:
        assert ctx.scoring.shared["scoring_lm"].source == str(gpt2_copy)
        assert stored.self_graded == [load_manifest(run).models[0].label]
        assert "graded by its own model" in stored.warning
        assert "WARNING: coherence is scored by" in report and "graded by its own model" in err


def _profile(reader_dir: Path, name: str = "mine"):
    """A profile for ``reader_dir`` saved in $EVALKIT_HOME: a steep calibration (coherence x -> 1 + 4x stars)."""
    from evalkit.calibration import fit_calibration
    from evalkit.profiles import Profile, ProfileCV, ProfileData, ProfileReader, save_profile

    xs = [i / 40 for i in range(40)]
    cal = fit_calibration("coherence", "higher", xs, [1 + 4 * x for x in xs], [str(i % 4) for i in range(40)],
                          ["a", "b"] * 20, "made.csv", "Coherence")
    reader = ProfileReader(name=reader_dir.name, argument=str(reader_dir), path=str(reader_dir),
                           fingerprint=weights_fingerprint(reader_dir))
    prof = Profile(name=name, reader=reader, norms={"coherence_fluency": (-6.0, 0.5), "coherence_order": (0.0, 1.0)},
                   data=ProfileData(name="made.csv", sha256="0", stories=40, machine_stories=40, prompts=4,
                                    systems=["a", "b"], criterion="Coherence"),
                   calibration=cal, cv=ProfileCV(folds=4, mae=0.5, rmse=0.6, system_mae=0.1, pooled_tau=0.3,
                                                 system_tau=1.0), evalkit_version="test", created="now")
    return prof, save_profile(prof)


def test_a_profile_goes_with_its_reader_only(tiny_gpt2_dir, tiny_llama_dir, tmp_path, monkeypatch):
    """--scoring-lm PROFILE: the run keeps the profile while its reader scores; when a candidate is built
    on that reader the guard picks another LM, and the profile (its norms, its stars) is dropped, said so."""
    from evalkit.scorers.lm import resolve_reader

    monkeypatch.setenv("EVALKIT_HOME", str(tmp_path))
    _, path = _profile(tiny_gpt2_dir)
    assert path == tmp_path / "profiles" / "mine.json"
    opts, note = resolve_reader("mine")
    assert opts == {"path": str(tiny_gpt2_dir), "profile": str(path)} and note is None
    assert resolve_reader(str(tiny_gpt2_dir))[0] == opts  # the reader finds its profile by its weights
    assert "no calibration profile" in resolve_reader(str(tiny_llama_dir))[1]
    info, lm = choose_scoring_lm([_spec(tiny_llama_dir, "other")], {**opts, "alternatives": []})
    assert lm["profile"] == str(path) and info.profile == "mine" and "MAE 0.50" in info.profile_summary
    info, lm = choose_scoring_lm([_spec(tiny_gpt2_dir, "mine-cand")], {**opts, "alternatives": [str(tiny_llama_dir)]})
    assert lm == {"path": str(tiny_llama_dir)} and info.profile is None
    assert "profile mine is for reader" in info.warning


def test_a_run_with_a_profile_gets_its_stars_and_names_it(tiny_gpt2_dir, tiny_llama_dir, results_dir, monkeypatch):
    """compare --scoring-lm PROFILE: coherence stars from the profile's calibration, its norms in the
    score, and the manifest, rating.json and report name the profile and its cross-validated error."""
    from evalkit.records import load_manifest
    from evalkit.runner import run_compare
    from evalkit.scorers.coherence import PARTS, combine
    from evalkit.scorers.lm import resolve_reader

    monkeypatch.setenv("EVALKIT_HOME", str(results_dir.parent / "home"))
    prof, path = _profile(tiny_gpt2_dir)
    opts, _ = resolve_reader("mine")
    run = run_compare([str(tiny_llama_dir)], suite="smoke", results_dir=results_dir, scorers=["coherence"],
                      params={"max_new_tokens": 16, "do_sample": False}, scoring_options={"lm": opts})
    stored = load_manifest(run).scoring_lm
    assert stored.profile == "mine" and stored.profile_path == str(path) and stored.name == tiny_gpt2_dir.name
    rows = [json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines()]
    scored = [r["scores"] for r in rows if r["scores"].get("coherence") is not None]
    assert scored
    for s in scored:
        assert s["coherence"] == pytest.approx(combine({k: s[k] for k in PARTS}, prof.norms))
        assert s["coherence_stars"] == pytest.approx(prof.calibration.stars([s["coherence"]])[0])
    rating = json.loads((run / "rating.json").read_text())
    assert "profile mine" in json.dumps(rating["calibrations"]["coherence"])
    assert "profile mine" in (run / "report.md").read_text() and "MAE 0.50" in (run / "report.md").read_text()
    from evalkit.pipeline import RunContext

    again = RunContext.load(run, scorer_names=["coherence"])  # `evalkit report RUN`: no option given again
    assert again.scoring.options["lm"]["profile"] == str(path)
    assert load_manifest(run).scoring_lm == stored




def test_a_reader_named_by_a_preset(tiny_gpt2_dir, tmp_path, monkeypatch):
    """--scoring-lm NAME: a preset (here from a models file) reads with its local weights; an adapter preset
    or an unknown name is refused in one line."""
    from evalkit.errors import EvalkitError
    from evalkit.scorers.lm import resolve_reader

    monkeypatch.setenv("EVALKIT_HOME", str(tmp_path / "home"))
    models = tmp_path / "models.toml"
    models.write_text(f'[models.tiny]\nbackend = "hf"\nsource = {json.dumps(str(tiny_gpt2_dir))}\n', encoding="utf-8")
    opts, note = resolve_reader("tiny", str(models))
    assert opts == {"path": str(tiny_gpt2_dir)} and "fit one with" in note
    with pytest.raises(EvalkitError, match="unknown model"):
        resolve_reader("no-such-reader", str(models))
    with pytest.raises(EvalkitError, match="adapter"):
        resolve_reader("smollm2-135m-persona")
