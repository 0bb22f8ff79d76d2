"""The output folder: what it holds decides between a fresh start, a resume, "already trained" and a
refusal. Layout while training: <out>/finetune_plan.json + <out>/checkpoints/checkpoint-N; at the end
the kept weights (or adapter) and tokenizer move into <out>, training_record.json last, and the
checkpoints go. Until then <out> holds no config.json, so a preset never picks up a half-trained model."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evalkit.errors import EvalkitError
from evalkit.finetune.record import PLAN_FILE, FinetunePlan, TrainingRecord, load_plan, load_record
from evalkit.models.base import TRAINING_RECORD

CHECKPOINTS = "checkpoints"
STAGING = ".staging"
_CKPT = re.compile(r"^checkpoint-(\d+)$")
# moved last, so a folder with a config names complete weights
_LAST = ("config.json", "adapter_config.json")


@dataclass
class OutputState:
    action: Literal["fresh", "resume", "done"]
    checkpoint: Path | None = None
    plan: FinetunePlan | None = None
    record: TrainingRecord | None = None


def prepare_output(out: Path, plan: FinetunePlan, overwrite: bool, resume: bool) -> OutputState:
    if out.exists() and not out.is_dir():
        raise EvalkitError(f"output {out} is a file, not a folder")
    if not out.exists() or not any(out.iterdir()):
        return OutputState("fresh")
    if overwrite:
        if not written_by_evalkit(out):
            found = ", ".join(sorted(p.name for p in out.iterdir())[:5])
            raise EvalkitError(f"output {out} holds files evalkit did not write (found: {found}): --overwrite only "
                               "replaces an evalkit training; choose another --output or empty it yourself")
        clear_folder(out)
        return OutputState("fresh")
    if (out / TRAINING_RECORD).is_file():
        rec = load_record(out / TRAINING_RECORD)
        if rec is not None and rec.identity == plan.identity:
            return OutputState("done", record=rec)
        what = (f"a model trained from {rec.base.label} with recipe {rec.recipe} on suite {rec.suite.name}"
                if rec is not None else "a model with a training record evalkit cannot read")
        raise EvalkitError(f"output {out} already holds {what}: pass --overwrite to replace it, "
                           "or choose another --output")
    old = load_plan(out / PLAN_FILE) if (out / PLAN_FILE).is_file() else None
    if old is not None:
        if old.identity != plan.identity:
            raise EvalkitError(f"output {out} holds an unfinished training with other settings (differs in: "
                               f"{', '.join(plan_differences(old, plan))}): rerun with the same settings to resume it, "
                               "or pass --overwrite to start over")
        ckpt = last_checkpoint(out / CHECKPOINTS) if resume else None
        if ckpt is None:
            shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
            return OutputState("fresh", plan=old)
        return OutputState("resume", checkpoint=ckpt, plan=old)
    found = ", ".join(sorted(p.name for p in out.iterdir())[:5])
    raise EvalkitError(f"output {out} is not empty and holds no evalkit training (found: {found}): "
                       "choose another --output, or pass --overwrite to replace its contents")


def plan_differences(old: FinetunePlan, new: FinetunePlan) -> list[str]:
    diffs = []
    if old.base_fingerprint != new.base_fingerprint:
        diffs.append(f"base model ({old.base_label} -> {new.base_label})")
    if old.suite_hash != new.suite_hash:
        diffs.append("suite")
    if old.splits != new.splits:
        diffs.append("splits")
    keys = sorted(set(old.recipe) | set(new.recipe))
    diffs += [k for k in keys if old.recipe.get(k) != new.recipe.get(k)]
    return diffs or ["identity"]


def written_by_evalkit(out: Path) -> bool:
    """A finished training (its record) or an unfinished one (its plan) that evalkit can read."""
    return ((out / TRAINING_RECORD).is_file() and load_record(out / TRAINING_RECORD) is not None) or \
        ((out / PLAN_FILE).is_file() and load_plan(out / PLAN_FILE) is not None)


def clear_folder(out: Path) -> None:
    """--overwrite: empty the folder, but never one that is obviously not a model folder."""
    real = out.resolve()
    protected = {Path("/"), Path.home().resolve(), Path.cwd().resolve()}
    if real in protected or Path.cwd().resolve().is_relative_to(real):
        raise EvalkitError(f"refusing to overwrite {out}: it is the working folder, an ancestor of it, or home")
    for marker in (".git", "pyproject.toml", "suite.toml"):
        if (real / marker).exists():
            raise EvalkitError(f"refusing to overwrite {out}: it holds {marker}, not a model")
    shutil.rmtree(real)
    real.mkdir(parents=True)


def last_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint whose trainer_state.json (the Trainer writes it last) is readable;
    newer torn ones (a kill during a save) are removed."""
    if not folder.is_dir():
        return None
    found = sorted(((int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT.match(p.name)) and p.is_dir()),
                   reverse=True)
    for _, p in found:
        try:
            json.loads((p / "trainer_state.json").read_text(encoding="utf-8"))
            return p
        except (OSError, ValueError):
            shutil.rmtree(p, ignore_errors=True)
    return None


def install(staging: Path, out: Path) -> None:
    """Move the saved files from the staging folder into ``out``, configs last."""
    entries = sorted(staging.iterdir(), key=lambda p: (p.name in _LAST, p.name))
    for src in entries:
        dst = out / src.name
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        os.replace(src, dst)
    shutil.rmtree(staging, ignore_errors=True)


def clean_up(out: Path) -> None:
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    (out / PLAN_FILE).unlink(missing_ok=True)
