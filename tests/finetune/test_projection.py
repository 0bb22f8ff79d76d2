"""`evalkit finetune MODEL --random-weights --max-steps N` through the real command line: real optimizer
steps of the recipe at a tiny model's shape with random weights, and the projected training time of the
suite's train split (QLoRA on layer prefixes of the 2-layer Llama; a full fine-tune of GPT-2 at full depth)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.finetune.record import PROJECTION_FILE, ProjectedTraining
from evalkit.models.base import TRAINING_RECORD

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def evalkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=ENV, timeout=600)


def test_qlora_projection_from_two_steps_on_layer_prefixes(tmp_path, tiny_llama_dir):
    res = evalkit("finetune", str(tiny_llama_dir), "--random-weights", "--max-steps", "2", "--recipe", "qlora",
                  "--max-length", "64", "--batch-size", "2", "--prefixes", "1,2", "--output", "proj", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    files = sorted(p.name for p in (tmp_path / "proj").iterdir())
    assert files == [PROJECTION_FILE]  # nothing a preset could pick up as a trained model
    rec = ProjectedTraining.model_validate_json((tmp_path / "proj" / PROJECTION_FILE).read_text())
    p = rec.projection
    assert p.basis == "projected from 2 steps at 1/2 of 2 layers" and p.layers_measured == [1, 2]
    assert [(s.layers, s.step) for s in p.samples] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert p.micro_batches_per_step == 1 and p.recipe_micro_batches_per_step == 4  # qlora: 8 / 2
    assert p.sequence_length == 64 and p.batch_size == 2 and p.train_examples == 81 and p.epochs == 3
    assert p.micro_batches_per_epoch == 41 and p.optimizer_steps == math.ceil(41 * 3 / 4)
    assert p.projected_s.value == pytest.approx(p.micro_batch_s.value * 41 * 3)
    assert p.projected_hours == pytest.approx(p.projected_s.value / 3600) and p.projected_s.value > 0
    assert rec.hyperparameters["weights"] == "random" and rec.base.trainable_parameters > 0
    assert rec.global_step == 2 and rec.wall_time_s > 0 and rec.train_loss is not None
    assert "projected from 2 steps" in res.stdout and not (tmp_path / "proj" / TRAINING_RECORD).exists()


def test_full_finetune_projection_at_full_depth(tmp_path, tiny_gpt2_dir):
    res = evalkit("finetune", str(tiny_gpt2_dir), "--random-weights", "--max-steps", "2", "--recipe", "full",
                  "--max-length", "32", "--output", "proj", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    p = ProjectedTraining.model_validate_json((tmp_path / "proj" / PROJECTION_FILE).read_text()).projection
    assert p.basis == "projected from 2 steps" and p.layers_measured == [2] and p.fit.slope_s is None
    assert p.micro_batches_per_step == p.recipe_micro_batches_per_step == 1 and len(p.samples) == 2


def test_prefixes_need_random_weights(tmp_path, tiny_gpt2_dir):
    res = evalkit("finetune", str(tiny_gpt2_dir), "--prefixes", "1", cwd=tmp_path)
    assert res.returncode == 2 and "--random-weights" in res.stderr and len(res.stderr.strip().splitlines()) == 1
