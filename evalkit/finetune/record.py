"""The training record written beside the weights (training_record.json; the typed record itself lives
with the other stored records in evalkit.records), and the plan of an unfinished training
(finetune_plan.json) that a rerun checks before resuming."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from evalkit.records import (  # noqa: F401  (re-exported: the finetune package's names)
    TRAINING_SCHEMA,
    Record,
    TrainedBase,
    TrainingRecord,
    ProjectedTraining,
    TrainingSuite,
    read_json,
    utcnow,
)

PLAN_SCHEMA = "evalkit.finetune-plan/1"
PLAN_FILE = "finetune_plan.json"
# not training_record.json: a projection must never pass for a real training beside a preset's weights
PROJECTION_FILE = "training_projection.json"
# the training record is a stored record like the others: one definition, in evalkit.records
BaseModelInfo, SuiteInfo = TrainedBase, TrainingSuite


class FinetunePlan(Record):
    """What an unfinished training in this folder is: a rerun resumes it only when it is the same."""

    schema_: str = Field(PLAN_SCHEMA, alias="schema")
    identity: str
    base_label: str
    base_fingerprint: str
    recipe: dict[str, Any]
    suite_hash: str
    splits: list[str | None]
    created: str = Field(default_factory=utcnow)
    checkpoint_wall_s: dict[str, float] = Field(default_factory=dict)  # checkpoint folder -> training time so far

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


def load_plan(path: Any) -> FinetunePlan | None:
    try:
        return FinetunePlan.model_validate(read_json(path))
    except Exception:  # damaged or foreign: the caller treats the folder as not ours
        return None


def load_record(path: Any) -> TrainingRecord | None:
    try:
        return TrainingRecord.model_validate(read_json(path))
    except Exception:
        return None

