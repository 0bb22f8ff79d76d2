"""The capacity stage of `evalkit compare --random-weights`: each model measured at its real shape in a
fresh child process (spawn), so its peak memory does not hold what the models before it left behind, and a
model too large for the machine ends only its own process; and the training projection (`evalkit finetune
MODEL --random-weights`) its Training Time row reads."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from pydantic import ValidationError

from evalkit.capacity.engine import CapacitySettings, measure_capacity
from evalkit.errors import EvalkitError, RecordError
from evalkit.finetune.record import PROJECTION_FILE
from evalkit.finetune.train import safe_name
from evalkit.models.base import ModelSpec, options_problem
from evalkit.models.hf_options import HFOptions
from evalkit.models.random_weights import plan_for, shape_for
from evalkit.records import CapacityRecord, CapacityTraining, ProjectedTraining, read_json
from evalkit.suites import Suite
from evalkit.threads import ThreadPolicy, adopt, current, die_with_parent


def measure_isolated(spec: ModelSpec, suite: Suite, settings: CapacitySettings) -> CapacityRecord:
    """``measure_capacity`` in a spawned child; its progress lines go to stderr. A child that dies (the
    kernel's out-of-memory killer) is one line, not a traceback."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # random weights never reach for the hub (the child inherits it)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=die_with_parent) as pool:
        try:
            return pool.submit(_measure, spec, suite, settings, current()).result()
        except BrokenProcessPool:
            raise EvalkitError(f"{spec.label}: the process measuring it died (out of memory?); measure it alone "
                               "with `evalkit capacity` and --memory-limit-gb below this machine's free memory") from None


def _measure(spec: ModelSpec, suite: Suite, settings: CapacitySettings, policy: ThreadPolicy) -> CapacityRecord:
    adopt(policy)  # the parent's thread count (--threads), as the generation children take it
    return measure_capacity(spec, suite, settings, note=_say)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def projection_path(results_dir: Path, label: str) -> Path:
    """Where `evalkit finetune LABEL --random-weights` writes its projection by default."""
    return Path(results_dir) / "capacity" / safe_name(label) / PROJECTION_FILE


def find_training(results_dir: Path, label: str) -> tuple[CapacityTraining | None, str]:
    """(the model's training projection, None when there is none fit to use; what was looked at)."""
    path = projection_path(results_dir, label)
    if not path.is_file():
        return None, f"{path}: not found"
    try:
        rec = ProjectedTraining.model_validate(read_json(path))
    except (ValidationError, RecordError):
        return None, f"{path}: not a training projection"
    if rec.base.label != label:
        return None, f"{path}: projects {rec.base.label!r}, not {label!r}"
    return CapacityTraining(path=str(path), recipe=rec.recipe, device=rec.device, projection=rec.projection), str(path)


def check_measurable(spec: ModelSpec) -> ModelSpec:
    """``spec`` with ``weights = "random"``, checked before any run folder exists: its options, its
    configuration (a GGUF file or a remote endpoint has none evalkit can read: ShapeUnknown) and its
    quantization (nf4 or none); one line, exit 2, when it cannot be measured."""
    shape_for(spec)
    random = ModelSpec(spec.label, spec.backend, {**spec.options, "weights": "random"}, spec.description)
    problem = options_problem(spec.label, spec.backend, HFOptions, random.options)
    if problem:
        raise EvalkitError(problem)
    plan_for(random, "cpu")
    return random
