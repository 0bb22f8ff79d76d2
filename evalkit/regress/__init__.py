"""The noise-aware regression gate (`evalkit regress`): a candidate run against a pinned baseline on the same suite items.

For each metric the per-story differences (candidate - baseline, paired by suite item) get a seeded
percentile cluster-bootstrap CI of their mean (evalkit.significance, the star table's test; 10,000 resamples, 95%). A metric regresses
when its mean got worse by more than its tolerance (suite.toml [regress], absolute or relative to the
baseline mean) AND the CI excludes zero on the worse side: a drop that noise could explain never
fails the gate, and neither does a real but tolerated one. Speed (seconds_per_story, per story) and
peak memory (one reading per model: tolerance only) are compared only when the hardware matches.

- config.py: tolerances and the [regress] settings of a suite
- sides.py: the two sides (a run folder or a pinned baseline), pinning, and what makes them comparable
- gate.py: the checks per model pair and metric, and the verdict
"""

from evalkit.regress.config import (
    BUILTIN_SKIP,
    BUILTIN_TOLERANCE,
    FAILURES,
    MEMORY,
    SPEED,
    RegressConfig,
    Tolerance,
)
from evalkit.regress.gate import (
    Check,
    RegressResult,
    compare_metric,
    compare_pair,
    compare_single,
    regress,
    suite_regress_config,
)
from evalkit.regress.sides import (
    ModelSide,
    Side,
    check_comparable,
    damaged_scores_message,
    hardware_mismatch,
    load_pinned,
    load_run,
    load_side,
    pair_models,
    pin_baseline,
    pinned_dict,
)

__all__ = ["BUILTIN_SKIP", "BUILTIN_TOLERANCE", "FAILURES", "MEMORY", "SPEED", "Check", "ModelSide", "RegressConfig",
           "RegressResult", "Side", "Tolerance", "check_comparable", "compare_metric", "compare_pair", "compare_single",
           "damaged_scores_message", "hardware_mismatch", "load_pinned", "load_run", "load_side", "pair_models",
           "pin_baseline", "pinned_dict", "regress", "suite_regress_config"]
