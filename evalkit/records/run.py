"""The records of one run: manifest.json, generations.jsonl, scores.jsonl, summary.json, anchors.json,
the generation cache's model record and the training record a fine-tune leaves beside its weights.

suite -> models -> generations.jsonl -> scores.jsonl -> summary.json -> report.md/html. Every record
carries a ``schema`` tag.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from evalkit.errors import RecordError
from evalkit.records.io import Number, Record, WrittenRecord, read_json, utcnow

MANIFEST_SCHEMA = "evalkit.manifest/1"
GENERATION_SCHEMA = "evalkit.generation/1"
SCORE_SCHEMA = "evalkit.score/1"
SUMMARY_SCHEMA = "evalkit.summary/1"
MODEL_CACHE_SCHEMA = "evalkit.model/1"
ANCHORS_SCHEMA = "evalkit.anchors/1"
TRAINING_SCHEMA = "evalkit.training/1"


class GenerationParams(Record):
    """Sampling parameters. ``batch_size`` is a speed knob and is left out of the cache key."""

    max_new_tokens: int = Field(300, ge=1)
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0)
    do_sample: bool = True
    seed: int = 1234
    batch_size: int = Field(8, ge=1)

    def cache_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"batch_size"})


class Generation(Record):
    """What a backend returns for one request."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None  # wall time of the call that produced it (a whole batch)
    ttft_s: float | None = None  # time to first generated token of that call
    error: str | None = None  # set when this story failed (server down, ...): text is then ""
    extra: dict[str, Any] = Field(default_factory=dict)


class ModelInfo(Record):
    """How a model describes itself."""

    name: str
    backend: str
    source: str = ""
    parameters: int | None = None
    dtype: str | None = None
    quantization: str | None = None
    device: str | None = None
    adapter: str | None = None
    disk_bytes: int | None = None
    chat_template: bool = False
    extra: dict[str, Any] = Field(default_factory=dict)


class MemoryReading(Record):
    """Peak memory while one model loaded and generated.

    kind: ``cuda`` (peak allocated/reserved), ``rss`` (process peak resident set, reset before the
    model where the OS allows), or ``not measurable`` (remote models)."""

    kind: Literal["cuda", "rss", "not measurable"]
    peak_bytes: int | None = None
    reserved_bytes: int | None = None
    baseline_bytes: int | None = None
    note: str | None = None


class GenerationRecord(Record):
    """One line of generations.jsonl (and of the generation cache)."""

    schema_: str = Field(GENERATION_SCHEMA, alias="schema")
    key: str
    model: str  # the label used in this run
    model_key: str
    item_id: str
    seed: int
    params_key: str
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    batch_size: int | None = None
    error: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    created: str = Field(default_factory=utcnow)
    sample: int = Field(0, ge=0, description="which of the item's stories (--samples): 0 keeps the run seed and the old cache key")

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


class ScoreRecord(Record):
    """One line of scores.jsonl: every metric of one story. ``None`` means not scorable."""

    schema_: str = Field(SCORE_SCHEMA, alias="schema")
    model: str
    item_id: str
    gen_key: str | None = None
    scores: dict[str, float | None]
    notes: dict[str, str] = Field(default_factory=dict)
    sample: int = Field(0, ge=0, description="which of the item's stories (--samples) was scored")

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


# ---------------------------------------------------------------- training_record.json (evalkit finetune)

class TrainedBase(WrittenRecord):
    """The model a fine-tune started from."""

    label: str = Field(description="the base model's label as given to `evalkit finetune`")
    source: str = Field(description="hub id, folder or .gguf file as the user named it")
    resolved_path: str = Field(description="the transformers folder that was loaded")
    fingerprint: str = Field(description="cheap identity of the base weights and options")
    gguf: str | None = Field(None, description="the GGUF file the base was dequantized from, if any")
    parameters: int | None = Field(None, description="parameters of the trained model")
    trainable_parameters: int | None = Field(None, description="parameters the optimizer updated (LoRA: the adapter's)")


class TrainingSuite(WrittenRecord):
    """The suite splits a fine-tune trained and validated on."""

    name: str = Field(description="suite name")
    path: str = Field(description="where the suite was")
    hash: str = Field(description="suite version hash")
    train_split: str = Field(description="the split trained on")
    eval_split: str | None = Field(description="the split validated on (None: no validation)")
    n_train: int = Field(description="training stories")
    n_eval: int = Field(description="validation stories")
    train_tokens: int = Field(description="prompt + story tokens in one pass over the train split")
    train_story_tokens: int = Field(description="the tokens the loss counts (the stories)")
    truncated: int = Field(0, description="training examples cut to the context length")
    dropped: list[str] = Field(default_factory=list, description="items left out (nothing of the story fit)")


class TrainingRecord(WrittenRecord):
    """training_record.json, written beside the weights by `evalkit finetune` (last: it marks the folder
    complete); a run of those weights copies it into its manifest (ModelRun.training)."""

    schema_: str = Field(TRAINING_SCHEMA, alias="schema", description="record type and version")
    identity: str = Field(description="hash of base fingerprint, recipe, suite hash and splits (resume key)")
    recipe: str = Field(description="recipe name")
    recipe_file: str = Field(description="the recipe TOML that was used")
    method: Literal["full", "lora"] = Field(description="full fine-tune or LoRA/QLoRA")
    output: str = Field(description="the folder the weights or adapter were written to")
    output_kind: Literal["checkpoint", "adapter"] = Field(description="a whole model or a PEFT adapter")
    format: Literal["plain", "chat"] = Field(description="prompt format trained on")
    hyperparameters: dict[str, Any] = Field(description="the recipe's settings as resolved for this training")
    base: TrainedBase = Field(description="the model trained from")
    suite: TrainingSuite = Field(description="the suite splits trained and validated on")
    seed: int = Field(description="training seed")
    wall_time_s: float = Field(description="training time over all sessions (the Training Time row reads this)")
    session_wall_s: float = Field(description="this process's share of wall_time_s")
    session_cpu_s: float | None = Field(None, description="CPU time of this process while training, all threads")
    resumed_from_step: int | None = Field(None, description="the checkpoint step this session resumed from")
    load_s: float | None = Field(None, description="seconds to load the base")
    save_s: float | None = Field(None, description="seconds to save the result")
    global_step: int = Field(description="optimizer steps taken")
    epochs: float = Field(description="passes over the train split")
    tokens_seen: int = Field(description="non-padding input tokens through the model in training (all sessions)")
    peak_memory: MemoryReading = Field(description="peak memory while training")
    device: str = Field(description="the hardware, in words")
    hardware: dict[str, Any] = Field(default_factory=dict, description="the machine")
    libraries: dict[str, str] = Field(default_factory=dict, description="library versions")
    train_loss: float | None = Field(None, description="the last logged training loss")
    train_loss_mean: float | None = Field(None, description="mean training loss over this session's steps")
    validation_loss: float | None = Field(None, description="validation loss of the saved weights")
    initial_validation_loss: float | None = Field(None, description="validation loss of the base, before training")
    best_step: int | None = Field(None, description="the step whose weights were kept (lowest validation loss)")
    loss_history: list[dict[str, float]] = Field(default_factory=list, description="logged training losses by step")
    eval_history: list[dict[str, float]] = Field(default_factory=list, description="validation losses by step")
    evalkit_version: str = Field(description="evalkit version that trained")
    git_sha: str | None = Field(None, description="evalkit's git commit")
    command: list[str] = Field(default_factory=list, description="the command line")
    created: str = Field(default_factory=utcnow, description="when the record was written")


class ModelTraining(TrainingRecord):
    """ModelRun.training: the training record found beside a candidate's weights, and where."""

    path: str = Field(description="the training_record.json it was read from")


class ModelRun(Record):
    """One candidate inside a run manifest."""

    label: str
    spec: dict[str, Any]
    model_key: str
    info: ModelInfo | None = None
    load_s: float | None = None
    generate_s: float | None = None  # wall time spent generating the stories of this run
    memory: MemoryReading | None = None
    n_generated: int = 0
    n_cached: int = 0
    n_failed: int = 0
    failed_items: list[str] = Field(default_factory=list)
    oom_retries: int = 0
    torch_threads: int | None = Field(None, description="PyTorch intra-op threads in the child process that "
                                      "generated (None: generated in the run's own process, or nothing loaded)")
    training: ModelTraining | dict[str, Any] | None = Field(
        None, union_mode="left_to_right",
        description="the training record when evalkit fine-tuned it (a record of another version stays a plain dict)")


class SuiteRef(Record):
    name: str
    path: str
    hash: str
    split: str
    item_ids: list[str]


class JudgeRef(Record):
    """The judge a run used (``--judge MODEL`` or ``model`` under [judge] in suite.toml): what names it and
    what decides its numbers, so judge scores of two runs can be told apart."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(description="the judge model argument as given (a preset, folder, .gguf, openai server ...)")
    models_file: str | None = Field(None, description="the models file the argument was resolved with")
    label: str = Field(description="the judge model's label")
    backend: str = Field(description="evalkit backend of the judge")
    spec: dict[str, Any] = Field(description="the resolved model spec (backend options; no API key)")
    fingerprint: str = Field(description="the judge model's fingerprint (its weights or server; the judge-call cache key)")
    engine: str | None = Field(None, description="how answers became numbers (logits, server:..., sampled_mean:N); "
                                                 "None until the judge has run")
    rubrics: dict[str, str] = Field(default_factory=dict, description="rubric name -> 'v<version>:<digest of its wording>'")


class Manifest(Record):
    schema_: str = Field(MANIFEST_SCHEMA, alias="schema")
    run_id: str
    created: str = Field(default_factory=utcnow)
    finished: str | None = None
    status: Literal["running", "complete", "interrupted", "failed"] = "running"
    evalkit_version: str
    git_sha: str | None = None
    python: str
    libraries: dict[str, str] = Field(default_factory=dict)
    hardware: dict[str, Any] = Field(default_factory=dict)
    suite: SuiteRef
    params: GenerationParams
    models: list[ModelRun] = Field(default_factory=list)
    command: list[str] = Field(default_factory=list)
    pid: int | None = None
    host: str | None = None
    scorers: list[str] | None = Field(None, description="the scorers the run asked for (None: every installed one)")
    scoring_lm: ScoringLMInfo | None = Field(None, description="the LM that scored coherence (None: not scored yet, "
                                             "or no scorer used an LM)")
    samples: int = Field(1, ge=1, description="stories per suite item per model (--samples)")
    judge: JudgeRef | None = Field(None, description="the model used as judge, when one was (None: no judge)")
    threads: dict[str, Any] | None = Field(None, description="the thread policy the run used (evalkit.threads: "
                                           "threads, interop, available CPUs, source, OpenMP wait policy)")

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


class CachedModel(Record):
    """What a finished generation pass learned about a model, so a cached rerun needs no load."""

    schema_: str = Field(MODEL_CACHE_SCHEMA, alias="schema")
    model_key: str
    info: ModelInfo | None = None
    load_s: float | None = None
    memory: MemoryReading | None = None

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


class ScoringLMInfo(WrittenRecord):
    """Which language model scored coherence in a run, and whether a candidate was graded by its own weights."""

    name: str = Field(description="the scoring LM, in words (its file or folder name)")
    identity: str = Field(description="lm_identity of the scoring context: part of the coherence score-cache key")
    fingerprint: str | None = Field(description="sha256 of samples of its weight files: equal weights, equal fingerprint")
    self_graded: list[str] = Field(default_factory=list, description="candidate labels built on the scoring LM's weights "
                                   "(their coherence is graded by their own model); empty unless no other LM was available")
    passed_over: list[str] = Field(default_factory=list, description="scoring LMs not used, each with why (a candidate's "
                                   "weights, not installed)")
    warning: str | None = Field(None, description="shown in the run and the report when a candidate grades itself")
    profile: str | None = Field(None, description="the calibration profile whose norms and star calibration coherence "
                                "used (evalkit.profiles; None: the shipped ones)")
    profile_path: str | None = Field(None, description="the profile's file")
    profile_summary: str | None = Field(None, description="the profile in one line, with its cross-validated error")
    requested: dict[str, Any] | None = Field(None, description="the lm options the run was asked to read with "
                                             "(--scoring-lm: path, profile); a rebuilt report scores with them again")


Manifest.model_rebuild()  # its scoring_lm field names ScoringLMInfo, defined after it


DEGENERATE_KINDS = ("looped", "shuffled", "off_genre", "copied")  # the anchors' 1-star copies of a reference
DEFAULT_KINDS = ("looped", "shuffled", "off_genre")  # a quality metric the rating rules give no kinds


class MeanValue(WrittenRecord):
    mean: float | None = Field(description="mean over the stories that have a value (None: none has)")
    n: int = Field(description="how many stories had a value")


class AnchorScores(WrittenRecord):
    """anchors.json: the suite's reference stories and their degenerate copies, scored in the scoring
    stage with the run's scorers and context; rating reads it and scores nothing."""

    schema_: str = Field(ANCHORS_SCHEMA, alias="schema", description="record type and version")
    suite_hash: str = Field(description="hash of the suite version the anchors were scored on")
    split: str = Field(description="the split whose items were scored")
    item_ids: list[str] = Field(description="the suite items whose reference stories were scored")
    seed: int = Field(description="seed of the degenerate copies (shuffle order, off-genre and copied picks)")
    kinds: list[str] = Field(description="the degenerate kinds that were asked for (a kind the suite cannot build is absent from degenerate)")
    references: dict[str, MeanValue] = Field(description="metric -> mean over the reference stories (5 stars)")
    degenerate: dict[str, dict[str, float | None]] = Field(description="kind -> metric -> mean over the degenerate copies")
    per_item: dict[str, dict[str, dict[str, float | None]]] | None = Field(
        None, description="'reference' or kind -> metric -> item id -> value: the paired check that references "
                          "beat their degenerate copies (None: stored before it existed)")


# ---------------------------------------------------------------- summary.json

class MetricInfo(WrittenRecord):
    direction: str = Field(description="which way is better: higher, lower, target or none")
    low: Number | None = Field(None, description="documented lower end of the range (None: unbounded)")
    high: Number | None = Field(None, description="documented upper end of the range (None: unbounded)")
    description: str = Field("", description="what the metric measures")


class MetricSummary(WrittenRecord):
    n: int = Field(description="stories with a value")
    n_missing: int = Field(description="stories the metric could not score")
    mean: Number | None = Field(description="mean over the stories with a value")
    median: Number | None = Field(description="median over the stories with a value")
    ci_low: Number | None = Field(description="lower end of the seeded percentile bootstrap 95% CI of the mean")
    ci_high: Number | None = Field(description="upper end of that CI")


class Measurements(WrittenRecord):
    load_s: Number | None = Field(description="seconds to load the model")
    peak_memory_gb: Number | None = Field(description="peak memory the model added, GB")
    memory_kind: str | None = Field(description="how memory was measured: cuda, rss or not measurable")
    training_hours: Number | None = Field(description="hours of fine-tuning from evalkit's training record")
    n_failed: int = Field(description="stories that failed to generate")


def model_measurements(mrun: ModelRun) -> Measurements:
    """A model's measurements from its manifest entry (summary.json's ``measurements``)."""
    mem = mrun.memory
    peak_gb = None
    if mem is not None and mem.peak_bytes is not None:
        # On CPU the process RSS holds the interpreter and libraries too: count what the model added.
        base = mem.baseline_bytes if mem.kind == "rss" and mem.baseline_bytes else 0
        peak_gb = max(0, mem.peak_bytes - base) / 1e9
    training = mrun.training  # a typed ModelTraining, or a plain dict for a record of another version
    wall = training.wall_time_s if isinstance(training, TrainingRecord) else (training or {}).get("wall_time_s")
    return Measurements(load_s=mrun.load_s, peak_memory_gb=peak_gb, memory_kind=mem.kind if mem else None,
                        training_hours=(wall / 3600.0) if isinstance(wall, (int, float)) else None,
                        n_failed=mrun.n_failed)


class Summary(WrittenRecord):
    """summary.json: per model and metric the aggregate over the stories, and each model's measurements."""

    schema_: str = Field(SUMMARY_SCHEMA, alias="schema", description="record type and version")
    run_id: str = Field(description="the run")
    suite: str = Field(description="suite name")
    split: str = Field(description="suite split")
    metrics: dict[str, MetricInfo] = Field(description="metric -> direction, range, description")
    models: dict[str, dict[str, MetricSummary]] = Field(description="model label -> metric -> aggregate")
    measurements: dict[str, Measurements] = Field(description="model label -> load, memory, training, failures")
    problems: list[str] = Field(default_factory=list, description="damaged lines skipped while reading generations")


def load_manifest(run_dir: str | os.PathLike[str]) -> Manifest:
    path = Path(run_dir) / "manifest.json"
    data = read_json(path)
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        raise RecordError(f"{path}: not an evalkit manifest ({e.error_count()} problem(s))") from None
