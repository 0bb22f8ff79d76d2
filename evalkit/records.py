"""The stored records that connect the stages, and atomic file I/O.

suite -> models -> generations.jsonl -> scores.jsonl -> summary.json -> report.md/html.
Every record carries a ``schema`` tag; JSON files are replaced atomically and JSONL lines are
appended whole under a file lock, so a killed process never leaves a record that later stages trust
half-written (a torn last line is skipped and reported).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

from evalkit.errors import RecordError

MANIFEST_SCHEMA = "evalkit.manifest/1"
GENERATION_SCHEMA = "evalkit.generation/1"
SCORE_SCHEMA = "evalkit.score/1"
SUMMARY_SCHEMA = "evalkit.summary/1"
MODEL_CACHE_SCHEMA = "evalkit.model/1"
ANCHORS_SCHEMA = "evalkit.anchors/1"
RATING_SCHEMA = "evalkit.rating/1"
BASELINE_SCHEMA = "evalkit.baseline/1"
REGRESS_SCHEMA = "evalkit.regress/1"
LEADERBOARD_SCHEMA = "evalkit.leaderboard/1"
TRAINING_SCHEMA = "evalkit.training/1"
Number = float | int  # ints stay ints when written (no 0 -> 0.0): the files stay byte-identical


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys), cut to ``length`` hex digits."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:length]


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


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


class WrittenRecord(BaseModel):
    """A stage output only evalkit writes: unknown keys are refused, so a typo never passes silently.
    Keys named in ``_omit_if_none`` are left out of the file when None (as the hand-built dicts did)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())
    _omit_if_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: Any) -> Any:
        data = handler(self)
        for key in self._omit_if_none:
            if data.get(key) is None:
                data.pop(key, None)
        return data


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


Manifest.model_rebuild()  # its scoring_lm field names ScoringLMInfo, defined after it


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


# ---------------------------------------------------------------- rating.json

class RatingCell(WrittenRecord):
    value: Number | None = Field(description="mean (or single measurement) in the row's unit")
    ci_low: Number | None = Field(description="lower end of the 95% CI of the mean (None: a single value)")
    ci_high: Number | None = Field(description="upper end of that CI")
    n: int = Field(description="stories (or measurements) behind the value")
    stars: Number | None = Field(description="shown stars, half steps 1-5 (None: not rated)")
    score: Number | None = Field(description="unrounded stars")
    note: str | None = Field(description="why a cell has no stars, or a caveat")


class RatingComparison(WrittenRecord):
    a: str = Field(description="first model")
    b: str = Field(description="second model")
    diff: Number = Field(description="mean of a - b in the row's unit")
    ci_low: Number | None = Field(description="lower end of the paired bootstrap CI (None: one value each)")
    ci_high: Number | None = Field(description="upper end of that CI")
    significant: bool = Field(description="the CI excludes 0 (or the margin rule holds for single values)")
    better: str | None = Field(description="the better model when significant")
    n: int = Field(description="paired items, the clusters (1 for single measurements)")
    _omit_if_none = ("p", "p_holm", "se", "mde", "n_samples", "items_to_resolve", "samples_to_resolve", "unit")
    p: Number | None = Field(None, description="two-sided cluster-bootstrap p-value (None: one value each)")
    p_holm: Number | None = Field(None, description="Holm-adjusted p over the row's pairs (more than two models)")
    se: Number | None = Field(None, description="bootstrap standard error of diff")
    mde: Number | None = Field(None, description="smallest |diff| the run detects with 80% power")
    n_samples: Number | None = Field(None, description="mean stories per item behind each item's mean")
    items_to_resolve: int | None = Field(None, description="items that would resolve |diff| (a tie only)")
    samples_to_resolve: int | None = Field(None, description="samples per item that would resolve |diff| (a tie only)")
    unit: str | None = Field(None, description="the unit of diff when it is not the row's (★: calibrated stars)")


class RatingCheck(WrittenRecord):
    """Do the suite's references beat their degenerate copies on the row's metric (paired over items)?"""

    informative: bool = Field(description="references significantly better than the degenerate copies")
    diff: Number | None = Field(description="mean over items of reference - degenerate copies, in the metric's unit")
    ci_low: Number | None = Field(description="lower end of the cluster-bootstrap CI of diff")
    ci_high: Number | None = Field(description="upper end of that CI")
    p: Number | None = Field(description="two-sided bootstrap p-value")
    n: int = Field(description="items with a reference and a degenerate value")
    reason: str = Field(description="the verdict in words")


class RatingRow(WrittenRecord):
    _omit_if_none = ("note", "stars_from", "check", "test", "mde", "per_item")

    row: str = Field(description="the seed's row name")
    kind: str = Field(description="quality, training, speed, memory or overall")
    metric: str | None = Field(description="the metric or measurement the row rates")
    unit: str = Field(description="the unit and direction, in words")
    direction: str = Field(description="higher or lower is better")
    models: dict[str, RatingCell] = Field(description="model label -> cell")
    note: str | None = Field(None, description="a caveat for the whole row")
    winner: str | None = Field(description="the model that beats every other, 'tie', or None (not compared)")
    comparisons: list[RatingComparison] = Field(description="every pair's test")
    ranking: list[str] = Field(description="models by significant wins minus losses")
    leaders: list[str] = Field(description="models no one beats")
    stars_from: str | None = Field(None, description="how the stars were given: calibration NAME, anchors, "
                                   "genre probability, cut points, quality rows")
    check: RatingCheck | None = Field(None, description="references vs degenerate copies (quality rows)")
    test: str | None = Field(None, description="the winner test in words: detectable difference, or why a tie")
    mde: Number | None = Field(None, description="the row's detectable difference (the largest over its pairs)")
    per_item: dict[str, dict[str, list[Number | None]]] | None = Field(
        None, description="Overall Quality only: model -> item -> each sample's stars, so the leaderboard can "
                          "test a change against an earlier run with the same clustered test")


class RatingAnchor(WrittenRecord):
    _omit_if_none = ("kinds", "degenerate", "note")

    one_star: Number | None = Field(description="the degenerate copies' mean (1 star)")
    five_star: Number | None = Field(description="the reference stories' mean (5 stars)")
    n: int = Field(description="reference stories with a value")
    kinds: list[str] | None = Field(None, description="the degenerate kinds averaged for one_star")
    degenerate: dict[str, Number] | None = Field(None, description="kind -> its mean")
    note: str | None = Field(None, description="why there is no anchor")


class Rating(WrittenRecord):
    """rating.json: the seed's eight rows with stars, winners and the anchors and rules that made them."""

    _omit_if_none = ("problems", "calibrations")

    schema_: str = Field(RATING_SCHEMA, alias="schema", description="record type and version")
    run_id: str = Field(description="the run")
    suite: str = Field(description="suite name")
    split: str = Field(description="suite split")
    created: str = Field(description="when the run was first rated (kept by later ratings)")
    device: str = Field(description="the hardware, in words")
    suite_hash: str = Field(description="hash of the suite version the run used")
    n_items: int = Field(description="suite items in the run")
    weights: dict[str, Number] = Field(description="quality row -> weight in Overall Quality")
    anchors: dict[str, RatingAnchor] = Field(description="metric -> its 1- and 5-star levels")
    models: list[str] = Field(description="model labels in run order")
    rules: dict[str, Any] = Field(description="the star rules in force (rating.toml merged with the suite's [rating])")
    rows: list[RatingRow] = Field(description="the eight rows, in the seed's order; then the Judge preference row "
                                              "when the run used a judge")
    problems: list[str] | None = Field(None, description="damaged score lines skipped")
    samples: int = Field(1, description="stories per item per model (the most any model has)")
    calibrations: dict[str, dict[str, Any]] | None = Field(None, description="metric -> the calibration its "
                                                           "stars came from: name, data, criterion, CV error")


# ---------------------------------------------------------------- baselines and the regression gate

class BaselineSuite(WrittenRecord):
    name: str = Field(description="suite name")
    path: str = Field(description="where the suite was")
    hash: str = Field(description="suite version hash")
    split: str = Field(description="suite split")
    item_ids: list[str] = Field(description="the items the baseline ran")
    item_hashes: dict[str, str] | None = Field(description="item id -> content hash (None: suite version gone)")


class BaselineModel(WrittenRecord):
    measurements: dict[str, Any] = Field(description="the model's summary.json measurements")
    stories: dict[str, dict[str, Number | None]] = Field(description="item id -> metric -> value")


class Baseline(WrittenRecord):
    """A pinned baseline (results/baselines/*.json): a run's scores and settings, no weights. Every
    evalkit.baseline/1 file carries content_hash (it came with the schema), so a file without one was
    edited: regress refuses it."""

    schema_: str = Field(BASELINE_SCHEMA, alias="schema", description="record type and version")
    source_run: str = Field(description="the run it was pinned from")
    created: str | None = Field(description="when that run was made")
    git_sha: str | None = Field(description="evalkit's git commit for that run")
    suite: BaselineSuite = Field(description="the suite items it ran")
    hardware: dict[str, Any] = Field(description="the machine (speed and memory gate only on the same one)")
    params: dict[str, Any] = Field(description="sampling settings (a candidate reuses them)")
    scorers: list[str] | None = Field(description="scorers the run used (None: every installed one)")
    metrics: dict[str, MetricInfo] = Field(description="metric -> direction, range, description")
    models: dict[str, BaselineModel] = Field(description="model label -> measurements and per-story scores")
    content_hash: str = Field(description="stable hash of everything else: edits (and its removal) are refused")


class RegressSide(WrittenRecord):
    source: str = Field(description="run folder or pinned file")
    kind: str = Field(description="run or pinned")
    run_id: str = Field(description="the run")
    suite: str = Field(description="suite name")
    split: str = Field(description="suite split")
    suite_hash: str = Field(description="suite version hash")
    items: int = Field(description="suite items")
    git_sha: str | None = Field(description="evalkit's git commit")
    created: str | None = Field(description="when the run was made")
    hardware: dict[str, Any] = Field(description="the machine")


class RegressMethod(WrittenRecord):
    test: str = Field(description="the statistical test, in words")
    confidence: Number = Field(description="CI level")
    resamples: int = Field(description="bootstrap resamples")
    seed: int = Field(description="bootstrap seed")
    min_pairs: int = Field(description="fewest paired stories for a test")


class RegressCheck(WrittenRecord):
    model: str = Field(description="candidate label")
    baseline_model: str = Field(description="baseline label")
    metric: str = Field(description="metric or measurement")
    kind: str = Field(description="quality, speed, memory or failures")
    direction: str = Field(description="higher or lower is better")
    verdict: str = Field(description="regression, worse (noise), worse (tolerated), better, no change or skipped")
    baseline: Number | None = Field(description="baseline mean over the paired stories")
    candidate: Number | None = Field(description="candidate mean over the paired stories")
    delta: Number | None = Field(description="candidate - baseline")
    ci_low: Number | None = Field(description="lower end of the paired bootstrap CI of delta")
    ci_high: Number | None = Field(description="upper end of that CI")
    n: int = Field(description="paired stories")
    tolerance: Number | None = Field(description="the tolerance in the metric's unit")
    tolerance_text: str = Field(description="the tolerance as configured")
    significant: bool | None = Field(description="the CI excludes 0 (None: no test)")
    reason: str = Field(description="why skipped, or what regressed")


class RegressReport(WrittenRecord):
    """regress.json: the gate's verdict and every check behind it."""

    schema_: str = Field(REGRESS_SCHEMA, alias="schema", description="record type and version")
    verdict: Literal["pass", "regression"] = Field(description="the gate's answer")
    regressions: list[str] = Field(description="the metrics (model:metric with several pairs) that regressed")
    baseline: RegressSide = Field(description="the baseline side")
    candidate: RegressSide = Field(description="the candidate side")
    pairs: list[list[str]] = Field(description="(baseline label, candidate label) pairs compared")
    hardware_match: bool = Field(description="speed and memory were compared")
    hardware_reason: str | None = Field(description="why they were not")
    method: RegressMethod = Field(description="the test and its settings")
    checks: list[RegressCheck] = Field(description="one per model pair and metric")
    notes: list[str] = Field(description="caveats")


# ---------------------------------------------------------------- leaderboard.json

class LeaderboardCell(WrittenRecord):
    value: Number | None = Field(description="the row's value")
    stars: Number | None = Field(description="its stars")
    ci_low: Number | None = Field(description="lower end of its CI")
    ci_high: Number | None = Field(description="upper end of its CI")
    note: str | None = Field(description="why n/a, or a caveat")


class LeaderboardEntry(WrittenRecord):
    rank: int = Field(description="place by Overall Quality")
    model: str = Field(description="model label")
    run_id: str = Field(description="the run")
    created: str = Field(description="when the run was made")
    device: str = Field(description="the hardware, in words")
    overall: Number | None = Field(description="Overall Quality")
    overall_delta: Number | None = Field(description="change against the model's previous run")
    previous_run: str | None = Field(description="that previous run")
    cells: dict[str, LeaderboardCell] = Field(description="row -> cell")
    _omit_if_none = ("delta_significant", "delta_mde")
    delta_significant: bool | None = Field(None, description="the change is significant (cluster bootstrap over the "
                                           "items both runs share; None: not testable)")
    delta_mde: Number | None = Field(None, description="the smallest change that test could see (80% power)")


class LeaderboardGroup(WrittenRecord):
    suite: str = Field(description="suite name")
    split: str = Field(description="suite split")
    rows: list[str] = Field(description="the rating's rows, in order")
    units: dict[str, str] = Field(description="row -> unit text")
    entries: list[LeaderboardEntry] = Field(description="ranked rows of the table")


class LeaderboardSkip(WrittenRecord):
    run: str = Field(description="run folder name")
    reason: str = Field(description="why it was skipped")


class LeaderboardRecord(WrittenRecord):
    """leaderboard.json (``evalkit leaderboard -f json``)."""

    schema_: str = Field(LEADERBOARD_SCHEMA, alias="schema", description="record type and version")
    all_runs: bool = Field(description="every run of each model, not only its latest")
    groups: list[LeaderboardGroup] = Field(description="one table per suite and split")
    skipped: list[LeaderboardSkip] = Field(description="runs not trusted, and why")


def dump_record(record: BaseModel) -> dict[str, Any]:
    return record.model_dump(mode="json", by_alias=True)


# ---------------------------------------------------------------- atomic file I/O

def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON atomically (see write_text)."""
    data = obj.model_dump(mode="json", by_alias=True) if isinstance(obj, BaseModel) else obj
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomic write: a temp file in the same folder, fsync, then rename over the target, so a reader
    sees the old file or the new one, never half of one."""
    path = Path(path)
    if path.exists() and not path.is_file():  # renaming over a device or folder would destroy it
        from evalkit.errors import EvalkitError

        raise EvalkitError(f"{path}: not a regular file (a folder, device or other special file): "
                           "refusing to replace it; choose a file path")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # name the file asked for, not the temp name
        raise OSError(e.errno, f"cannot create a file in {path.parent} ({e.strerror})", str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; records are meant to be shared like any file
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise named(e, path) from None
        raise


def named(e: OSError, path: str | os.PathLike[str]) -> OSError:
    """The error with the file it was about: writes through an open file do not say which."""
    if e.filename is None or str(e.filename).endswith(".tmp"):
        return type(e)(e.errno, e.strerror or str(e), str(path))
    return e


def read_json(path: str | os.PathLike[str]) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise RecordError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RecordError(f"{path}: damaged JSON ({e})") from None


def append_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> None:
    """Append whole lines under an exclusive lock, one write per line, fsync'd."""
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for r in records:
        data = r.model_dump(mode="json", by_alias=True) if isinstance(r, BaseModel) else r
        lines.append(json.dumps(data, ensure_ascii=False) + "\n")
    if not lines:
        return
    try:
        with FileLock(str(path) + ".lock"):
            with open(path, "a", encoding="utf-8") as f:
                # A torn last line (killed writer) would glue onto ours: start on a fresh line.
                if f.tell() > 0 and not _ends_with_newline(path):
                    f.write("\n")
                for line in lines:
                    f.write(line)
                f.flush()
                os.fsync(f.fileno())
    except OSError as e:
        raise named(e, path) from None


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


M = TypeVar("M", bound=BaseModel)


def iter_jsonl(path: str | os.PathLike[str], model: type[M], problems: list[str] | None = None) -> Iterator[M]:
    """Yield valid records; damaged lines are skipped and described in ``problems``."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield model.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as e:
                if problems is not None:
                    problems.append(f"{path}:{n}: skipped a damaged line ({type(e).__name__})")


def json_object_lines(raw: bytes, path: str | os.PathLike[str], problems: list[str],
                      expect: str = "a JSON object") -> Iterator[tuple[int, str, dict[str, Any]]]:
    """The one reader of hand-written JSONL (suite stories, `evalkit score` input): (line number,
    "file:line", object) per non-blank line. Each line is decoded on its own, so a bad byte is named by
    line and never turned into U+FFFD; a line that is not UTF-8, not JSON or not an object is described
    in ``problems`` as file:line and skipped. A UTF-8 BOM (Windows editors) before line 1 is not content."""
    for n, line_b in enumerate(raw.split(b"\n"), 1):
        where = f"{path}:{n}"
        try:
            line = (line_b.removeprefix(b"\xef\xbb\xbf") if n == 1 else line_b).decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(f"{where}: not UTF-8 text (byte 0x{line_b[e.start]:02x} at column {e.start + 1})")
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not valid JSON ({e.msg})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{where}: expected {expect}")
            continue
        yield n, where, obj


def load_manifest(run_dir: str | os.PathLike[str]) -> Manifest:
    path = Path(run_dir) / "manifest.json"
    data = read_json(path)
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        raise RecordError(f"{path}: not an evalkit manifest ({e.error_count()} problem(s))") from None
