"""The stored records that connect the stages, one module per record family, re-exported here so
``from evalkit.records import X`` names any of them.

- io: the record base classes (Record, WrittenRecord) and atomic file I/O
- cache: appended JSONL caches read with repair and appended without duplicates
- run: manifest.json, generations.jsonl, scores.jsonl, summary.json, anchors.json, the training record
- rating: rating.json
- regress: pinned baselines and regress.json
- leaderboard: leaderboard.json
"""

from evalkit.records.capacity import (
    CAPACITY_RUN_SCHEMA,
    CAPACITY_SCHEMA,
    AdapterShape,
    CapacityMemory,
    CapacityRecord,
    CapacityRun,
    CapacityTraining,
    Figure,
    LayerFit,
    ProjectedTraining,
    PromptLengths,
    StepSample,
    TimingSample,
    TrainingProjection,
    random_weights_run,
)
from evalkit.records.cache import append_new, read_cache
from evalkit.records.io import (
    Number,
    Record,
    WrittenRecord,
    append_jsonl,
    dump_record,
    iter_jsonl,
    json_object_lines,
    named,
    read_json,
    stable_hash,
    utcnow,
    write_json,
    write_text,
)
from evalkit.records.leaderboard import (
    LEADERBOARD_SCHEMA,
    LeaderboardCell,
    LeaderboardEntry,
    LeaderboardGroup,
    LeaderboardRecord,
    LeaderboardSkip,
)
from evalkit.records.rating import (
    RATING_SCHEMA,
    Rating,
    RatingAnchor,
    RatingCell,
    RatingCheck,
    RatingComparison,
    RatingRow,
)
from evalkit.records.regress import (
    BASELINE_SCHEMA,
    REGRESS_SCHEMA,
    Baseline,
    BaselineModel,
    BaselineSuite,
    RegressCheck,
    RegressMethod,
    RegressReport,
    RegressSide,
)
from evalkit.records.run import (
    ANCHORS_SCHEMA,
    DEFAULT_KINDS,
    DEGENERATE_KINDS,
    GENERATION_SCHEMA,
    MANIFEST_SCHEMA,
    MODEL_CACHE_SCHEMA,
    SCORE_SCHEMA,
    SUMMARY_SCHEMA,
    TRAINING_SCHEMA,
    AnchorScores,
    CachedModel,
    Generation,
    GenerationParams,
    GenerationRecord,
    JudgeRef,
    Manifest,
    MeanValue,
    Measurements,
    MemoryReading,
    MetricInfo,
    MetricSummary,
    ModelInfo,
    ModelRun,
    ModelTraining,
    ScoreRecord,
    ScoringLMInfo,
    SuiteRef,
    Summary,
    TrainedBase,
    TrainingRecord,
    TrainingSuite,
    load_manifest,
    model_measurements,
)

__all__ = [
    "AdapterShape", "CAPACITY_RUN_SCHEMA", "CAPACITY_SCHEMA", "CapacityMemory", "CapacityRecord", "CapacityRun",
    "CapacityTraining", "Figure", "LayerFit",
    "ProjectedTraining", "PromptLengths", "StepSample", "TimingSample", "TrainingProjection",
    "ANCHORS_SCHEMA", "AnchorScores", "BASELINE_SCHEMA", "Baseline", "BaselineModel", "BaselineSuite",
    "CachedModel", "DEFAULT_KINDS", "DEGENERATE_KINDS", "GENERATION_SCHEMA", "Generation", "GenerationParams",
    "GenerationRecord", "JudgeRef", "LEADERBOARD_SCHEMA", "LeaderboardCell", "LeaderboardEntry",
    "LeaderboardGroup", "LeaderboardRecord", "LeaderboardSkip", "MANIFEST_SCHEMA", "MODEL_CACHE_SCHEMA",
    "Manifest", "MeanValue", "Measurements", "MemoryReading", "MetricInfo", "MetricSummary", "ModelInfo",
    "ModelRun", "ModelTraining", "Number", "RATING_SCHEMA", "REGRESS_SCHEMA", "Rating", "RatingAnchor",
    "RatingCell", "RatingCheck", "RatingComparison", "RatingRow", "Record", "RegressCheck", "RegressMethod",
    "RegressReport", "RegressSide", "SCORE_SCHEMA", "SUMMARY_SCHEMA", "ScoreRecord", "ScoringLMInfo", "SuiteRef",
    "Summary", "TRAINING_SCHEMA", "TrainedBase", "TrainingRecord", "TrainingSuite", "WrittenRecord",
    "append_jsonl", "append_new", "dump_record", "iter_jsonl", "json_object_lines", "load_manifest",
    "model_measurements", "named", "random_weights_run", "read_cache", "read_json", "stable_hash", "utcnow",
    "write_json", "write_text"
]
