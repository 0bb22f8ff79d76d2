"""`evalkit compare --random-weights` as a user runs it (real processes): tiny configurations named like the
seed's presets (a 2-layer Llama in nf4 with the qlora recipe's LoRA, a 2-layer GPT-2), with training
projections written by `evalkit finetune --random-weights`, fill Training Time, Inference Speed and Memory
Efficiency, mark the quality rows n/a, write no stories, and the report's Capacity section sets the
figures beside the seed's claims; bad input stops in one line with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.records import CapacityRun, Rating
from evalkit.report.capacity import FIGURES, load_claims

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
QUALITY = ("Story Coherence", "Genre Adherence", "Creativity", "Vocabulary Richness", "Overall Quality")


def evalkit(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=ENV, timeout=timeout)


def seed_models(tmp: Path, gpt2: Path, llama: Path) -> Path:
    """The seed's two presets, pointed at tiny folders (the configurations random weights are built from)."""
    f = tmp / "models.toml"
    f.write_text(f'[models.distilgpt2]\nbackend = "hf"\nsource = "{gpt2}"\ndtype = "float32"\n\n'
                 f'[models.llama3-qlora]\nbackend = "hf"\nsource = "{llama}"\nquantization = "nf4"\n'
                 f'adapter = "{tmp / "no-adapter-yet"}"\nrequires_adapter = true\nfinetune_recipe = "qlora"\n')
    return f


def one_line_exit_2(res: subprocess.CompletedProcess, why: str) -> None:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and why in lines[0] and "Traceback" not in res.stderr, res.stderr


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_gpt2_dir, tiny_llama_dir) -> tuple[Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("random-compare")
    models = seed_models(tmp, tiny_gpt2_dir, tiny_llama_dir)
    for label, recipe in (("distilgpt2", "full"), ("llama3-qlora", "qlora")):  # where compare looks for them
        res = evalkit("finetune", label, "--random-weights", "--max-steps", "2", "--recipe", recipe, "--max-length",
                      "32", "--models-file", str(models), "--output", str(tmp / "r" / "capacity" / label), cwd=tmp)
        assert res.returncode == 0, res.stderr[-2000:]
    res = evalkit("compare", "llama3-qlora", "distilgpt2", "--random-weights", "--models-file", str(models),
                  "--results-dir", "r", "--max-new-tokens", "6", "--batch-size", "2", "--threads", "2", cwd=tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    (run_dir,) = [p for p in (tmp / "r").iterdir() if p.name[0].isdigit()]
    return run_dir, res


def test_random_weights_fill_the_three_rows_and_mark_the_quality_rows(run):
    run_dir, res = run
    rating = Rating.model_validate(json.loads((run_dir / "rating.json").read_text()))
    rows = {r.row: r for r in rating.rows}
    for name in QUALITY:
        assert all(c.note == "n/a: random weights" and c.stars is None for c in rows[name].models.values()), name
    cap = CapacityRun.model_validate(json.loads((run_dir / "capacity.json").read_text()))
    assert set(cap.models) == set(cap.training) == {"llama3-qlora", "distilgpt2"}
    for label in ("llama3-qlora", "distilgpt2"):
        rec = cap.models[label]
        speed = rows["Inference Speed"].models[label]
        assert speed.value == pytest.approx(rec.seconds_per_story.value) and speed.stars is not None
        assert speed.basis == rec.seconds_per_story.basis == "measured"  # tiny: full depth, the whole budget
        memory = rows["Memory Efficiency"].models[label]
        assert memory.value == pytest.approx(rec.memory.peak_added_bytes / 1e9) and memory.basis == "measured"
        training = rows["Training Time"].models[label]
        p = cap.training[label].projection
        assert training.value == pytest.approx(p.projected_s.value / 3600) and training.stars is not None
        assert training.basis == p.basis and training.basis.startswith("projected from 2 steps")
    assert all(rec.threads == 2 for rec in cap.models.values())  # --threads reaches each child (ENV says 1)
    llama = cap.models["llama3-qlora"]
    assert llama.quantization == "nf4" and llama.adapter is not None and llama.adapter.recipe == "qlora"
    assert cap.models["distilgpt2"].quantization is None and cap.models["distilgpt2"].adapter is None
    assert not (run_dir / "generations.jsonl").exists() and not (run_dir / "scores.jsonl").exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert all(m["spec"]["options"]["weights"] == "random" and m["load_s"] > 0 for m in manifest["models"])
    assert "n/a: random" in res.stdout and "Capacity at the real shape" in res.stdout


def test_the_report_sets_the_figures_beside_the_seeds_claims(run):
    run_dir, _ = run
    md = (run_dir / "report.md").read_text()
    section = md.split("## Capacity", 1)[1].split("\n## ", 1)[0]
    assert "Slower inference (\\~3-5 seconds per story)" in section and "Quick inference (&lt; 1 second per story)" in section
    assert "Requires 6-8GB VRAM" in section and "RTX 4060 10GB" in section
    assert "projected from 2 steps" in section and "cpu (" in section and "peak RSS added" in section
    assert "| **Story Coherence** | n/a: random weights | n/a: random weights |" in md
    assert "## Stories" not in md and "Degenerate kinds" not in md  # no stories, no quality anchors
    html = (run_dir / "report.html").read_text()
    assert '<section id="capacity">' in html and "&lt; 1 second per story" in html
    assert 'id="stories"' not in html
    (run_dir / "report.md").unlink()
    res = evalkit("report", str(run_dir), "--rerate", cwd=run_dir.parent)  # rebuilt from the stored records
    assert res.returncode == 0, res.stderr[-2000:]
    assert (run_dir / "report.md").read_text() == md


def test_the_seed_claims_file_covers_both_models():
    claims = load_claims()
    for label in ("distilgpt2", "llama3-qlora"):
        assert {c.figure for c in claims.claims if label in c.models} == set(FIGURES)


def test_too_little_memory_is_computed_and_labels_are_escaped(tmp_path, tiny_gpt2_dir):
    models = tmp_path / "models.toml"
    label = "gpt2<b>|x"
    models.write_text(f'[models."{label}"]\nbackend = "hf"\nsource = "{tiny_gpt2_dir}"\ndtype = "float32"\n'
                      f'weights = "random"\n')  # a models file's weights = "random": no flag needed
    res = evalkit("compare", label, "--models-file", str(models), "--results-dir", "r", "--max-new-tokens", "4",
                  "--batch-size", "2", "--memory-limit-gb", "0.000001", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    (run_dir,) = [p for p in (tmp_path / "r").iterdir() if p.name[0].isdigit()]
    cap = CapacityRun.model_validate(json.loads((run_dir / "capacity.json").read_text()))
    assert cap.models[label].memory.how == "computed" and "was available" in cap.models[label].memory.note
    cell = {r.row: r for r in Rating.model_validate(json.loads((run_dir / "rating.json").read_text())).rows}[
        "Memory Efficiency"].models[label]
    assert cell.value == pytest.approx(cap.models[label].memory.bytes_in_memory / 1e9)
    assert cell.basis == "computed from tensor sizes" and "too little memory" in cell.note
    assert "n/a: no training projection" in (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    assert label not in html and "gpt2&lt;b&gt;|x" in html


def test_bad_input_stops_in_one_line(tmp_path, tiny_gpt2_dir):
    (tmp_path / "model.gguf").write_bytes(b"GGUF" + b"\0" * 40)
    one_line_exit_2(evalkit("compare", str(tmp_path / "model.gguf"), "--random-weights", "--results-dir", "r",
                            cwd=tmp_path), "GGUF")
    models = tmp_path / "models.toml"
    models.write_text('[models.remote]\nbackend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n\n'
                      f'[models.half]\nbackend = "hf"\nsource = "{tiny_gpt2_dir}"\nweights = "random"\n\n'
                      f'[models.real]\nbackend = "hf"\nsource = "{tiny_gpt2_dir}"\n')
    one_line_exit_2(evalkit("compare", "remote", "--random-weights", "--models-file", str(models), cwd=tmp_path),
                    "runs elsewhere")
    one_line_exit_2(evalkit("compare", "half", "real", "--models-file", str(models), cwd=tmp_path), "real weights")
    one_line_exit_2(evalkit("compare", "half", "--judge", "half", "--models-file", str(models), cwd=tmp_path),
                    "nothing to score, judge or sample")
    one_line_exit_2(evalkit("compare", "real", "--memory-limit-gb", "1", "--models-file", str(models), cwd=tmp_path),
                    "--random-weights runs only")
    assert not (tmp_path / "results").exists() and not (tmp_path / "r").exists()  # nothing was started


def test_runs_leaderboard_and_regress_know_a_random_weights_run(run):
    run_dir, _ = run
    res = evalkit("runs", str(run_dir.parent), cwd=run_dir.parent)
    assert res.returncode == 0 and "complete" in res.stdout and "never scored" not in res.stdout, res.stdout
    res = evalkit("leaderboard", str(run_dir.parent), cwd=run_dir.parent)
    assert res.returncode == 0 and "random weights: speed and memory only" in res.stderr, res.stderr
    one_line_exit_2(evalkit("regress", "--baseline", str(run_dir), "--candidate", str(run_dir), cwd=run_dir.parent),
                    "measured random weights")
