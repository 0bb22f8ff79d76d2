"""The training record written beside the weights (training_record.json), and the plan of an unfinished
training (finetune_plan.json) that a rerun checks before resuming."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from evalkit.records import MemoryReading, Record, read_json, utcnow

TRAINING_SCHEMA = "evalkit.training/1"
PLAN_SCHEMA = "evalkit.finetune-plan/1"
PLAN_FILE = "finetune_plan.json"


class BaseModelInfo(Record):
    label: str
    source: str  # hub id, folder or .gguf file as the user named it
    resolved_path: str  # the transformers folder that was loaded
    fingerprint: str
    gguf: str | None = None
    parameters: int | None = None
    trainable_parameters: int | None = None


class SuiteInfo(Record):
    name: str
    path: str
    hash: str
    train_split: str
    eval_split: str | None
    n_train: int
    n_eval: int
    train_tokens: int  # prompt + story tokens in one pass over the train split
    train_story_tokens: int  # the tokens the loss counts
    truncated: int = 0
    dropped: list[str] = Field(default_factory=list)


class TrainingRecord(Record):
    schema_: str = Field(TRAINING_SCHEMA, alias="schema")
    identity: str  # hash of base fingerprint, recipe, suite hash and splits
    recipe: str
    recipe_file: str
    method: Literal["full", "lora"]
    output: str
    output_kind: Literal["checkpoint", "adapter"]
    format: Literal["plain", "chat"]
    hyperparameters: dict[str, Any]
    base: BaseModelInfo
    suite: SuiteInfo
    seed: int
    wall_time_s: float  # training time over all sessions (the Training Time row reads this)
    session_wall_s: float  # this process's share of it
    session_cpu_s: float | None = None  # CPU time of this process while training, all threads (shared machines)
    resumed_from_step: int | None = None
    load_s: float | None = None
    save_s: float | None = None
    global_step: int
    epochs: float
    tokens_seen: int  # non-padding input tokens through the model in training (all sessions)
    peak_memory: MemoryReading
    device: str
    hardware: dict[str, Any] = Field(default_factory=dict)
    libraries: dict[str, str] = Field(default_factory=dict)
    train_loss: float | None = None  # the last logged training loss
    train_loss_mean: float | None = None  # mean over this session's steps
    validation_loss: float | None = None  # of the saved weights
    initial_validation_loss: float | None = None  # of the base, before training
    best_step: int | None = None
    loss_history: list[dict[str, float]] = Field(default_factory=list)
    eval_history: list[dict[str, float]] = Field(default_factory=list)
    evalkit_version: str
    git_sha: str | None = None
    command: list[str] = Field(default_factory=list)
    created: str = Field(default_factory=utcnow)

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


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
