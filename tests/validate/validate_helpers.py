"""Helpers of the validate tests: a small ratings CSV in HANNA's columns (ratings planted in the story
text) and ``evalkit`` run in a child process with the planted scorers importable."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEMS = ["Human", "Alpha", "Beta", "Gamma", "Delta"]


def write_ratings(path: Path, n_groups: int = 8, systems=SYSTEMS, rows_hook=None) -> Path:
    rows = []
    for g in range(n_groups):
        for k, system in enumerate(systems):
            # distinct ratings: a system effect, a prompt effect and a small per-story wobble
            rating = round(1.0 + 0.6 * (len(systems) - k) + 0.11 * ((g * 7 + k * 3) % 5), 2)
            story = (f"Story {g}-{k} by {system}. The fox ran to the river and found a boat. rating={rating} "
                     f"It sailed away at night under the moon.")
            rows.append({"story_id": f"{g}-{k}", "model": system, "prompt_id": str(g), "prompt": f"Prompt {g}.",
                         "story": story, "Coherence": rating, "Surprise": round(6 - rating, 2)})
    if rows_hook:
        rows = rows_hook(rows)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def run_evalkit(args, tmp_path: Path, scored_log: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if scored_log is not None:
        env["EVALKIT_TEST_SCORED"] = str(scored_log)
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
