"""The checks: per model pair and metric, the paired cluster bootstrap against the tolerance; the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.records import (
    REGRESS_SCHEMA,
    RegressReport,
    dump_record,
)
from evalkit.regress.config import FAILURES, MEMORY, SPEED, RegressConfig
from evalkit.regress.sides import (
    ModelSide,
    Side,
    check_comparable,
    hardware_mismatch,
    pair_models,
)
from evalkit.significance import clustered_test
from evalkit.suites import load_suite


@dataclass
class Check:
    model: str  # candidate label
    baseline_model: str
    metric: str
    kind: str  # quality | speed | memory | failures
    direction: str
    verdict: str  # regression | worse (noise) | worse (tolerated) | better | no change | skipped
    baseline: float | None = None
    candidate: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    tolerance: float | None = None
    tolerance_text: str = ""
    significant: bool | None = None
    reason: str = ""

    @property
    def regressed(self) -> bool:
        return self.verdict == "regression"


def _judge(c: Check, worse_by: float, sig_worse: bool | None, sig_better: bool | None) -> None:
    if sig_worse is None:  # a single reading: tolerance alone decides
        c.verdict = "regression" if worse_by > c.tolerance else "worse (tolerated)" if worse_by > 0 else \
            "better" if worse_by < 0 else "no change"
        return
    if sig_worse:
        c.verdict = "regression" if worse_by > c.tolerance else "worse (tolerated)"
    elif sig_better:
        c.verdict = "better"
    else:
        c.verdict = "worse (noise)" if worse_by > c.tolerance else "no change"


def compare_metric(metric: str, direction: str, kind: str, b: ModelSide, c: ModelSide, items: list[str],
                   cfg: RegressConfig) -> Check:
    check = Check(c.label, b.label, metric, kind, direction, "skipped")
    paired = [i for i in items
              if b.stories.get(i, {}).get(metric) is not None and c.stories.get(i, {}).get(metric) is not None]
    pairs = [(b.stories[i][metric], c.stories[i][metric]) for i in paired]
    check.n = len(pairs)
    tol = cfg.tolerance(metric)
    check.tolerance_text = tol.text()
    if len(pairs) < cfg.min_pairs:
        n_base = sum(1 for i in items if b.stories.get(i, {}).get(metric) is not None)
        if n_base >= cfg.min_pairs:  # the candidate's stories stopped being scorable (empty, too short...)
            check.verdict = "regression"
            check.reason = f"only {len(pairs)} of the baseline's {n_base} scored stories are scorable in the candidate"
        else:
            check.reason = f"only {len(pairs)} stories scored in both (need {cfg.min_pairs})"
        return check
    check.baseline = sum(x for x, _ in pairs) / len(pairs)
    check.candidate = sum(y for _, y in pairs) / len(pairs)
    check.delta = check.candidate - check.baseline
    # the one test of rating, regress and the leaderboard: evalkit.significance's cluster bootstrap over items
    test = clustered_test("candidate", "baseline", {i: [y] for i, (_, y) in zip(paired, pairs)},
                          {i: [x] for i, (x, _) in zip(paired, pairs)}, confidence=cfg.confidence,
                          resamples=cfg.resamples, seed=cfg.seed)
    check.ci_low, check.ci_high = test.ci_low, test.ci_high
    check.tolerance = tol.resolve(check.baseline)
    sign = 1.0 if direction == "lower" else -1.0  # worse = up for "lower is better", down otherwise
    worse_by = sign * check.delta
    sig_worse = check.ci_low > 0 if sign > 0 else check.ci_high < 0
    sig_better = check.ci_high < 0 if sign > 0 else check.ci_low > 0
    check.significant = bool(sig_worse or sig_better)
    _judge(check, worse_by, sig_worse, sig_better)
    return check


def compare_single(metric: str, kind: str, bval: float | None, cval: float | None, b: ModelSide, c: ModelSide,
                   cfg: RegressConfig) -> Check:
    """One reading per side (peak memory, failed stories): the tolerance alone decides."""
    check = Check(c.label, b.label, metric, kind, "lower", "skipped", n=1)
    tol = cfg.tolerance(metric)
    check.tolerance_text = tol.text()
    if bval is None or cval is None:
        check.reason = "not measured in " + ("baseline" if bval is None else "candidate")
        return check
    check.baseline, check.candidate, check.delta = float(bval), float(cval), float(cval) - float(bval)
    check.tolerance = tol.resolve(check.baseline)
    _judge(check, check.delta, None, None)
    return check


def compare_pair(base: Side, cand: Side, b_label: str, c_label: str, cfg: RegressConfig,
                 hw_reason: str | None) -> list[Check]:
    b, c = base.models[b_label], cand.models[c_label]
    items = [i for i in base.item_ids]
    checks: list[Check] = []
    names = [m for m in base.metrics if m not in SPEED] + [m for m in SPEED if m in base.metrics]
    for metric in names:
        if metric in cfg.skip or (cfg.metrics is not None and metric not in cfg.metrics):
            continue
        direction = base.metrics[metric].get("direction", "none")
        kind = "speed" if metric in SPEED else "quality"
        if direction not in ("higher", "lower"):
            checks.append(Check(c_label, b_label, metric, kind, direction, "skipped",
                                reason=f"direction {direction!r}: not gated"))
            continue
        if kind == "speed" and hw_reason:
            checks.append(Check(c_label, b_label, metric, kind, direction, "skipped", reason=hw_reason))
            continue
        if metric not in cand.metrics:
            checks.append(Check(c_label, b_label, metric, kind, direction, "skipped", reason="candidate has no such metric"))
            continue
        checks.append(compare_metric(metric, direction, kind, b, c, items, cfg))
    if MEMORY not in cfg.skip and (cfg.metrics is None or MEMORY in cfg.metrics):
        bk, ck = b.measurements.get("memory_kind"), c.measurements.get("memory_kind")
        if hw_reason:
            checks.append(Check(c_label, b_label, MEMORY, "memory", "lower", "skipped", reason=hw_reason))
        elif bk != ck:
            checks.append(Check(c_label, b_label, MEMORY, "memory", "lower", "skipped",
                                reason=f"memory measured differently ({bk} vs {ck})"))
        else:
            checks.append(compare_single(MEMORY, "memory", b.measurements.get(MEMORY), c.measurements.get(MEMORY), b, c, cfg))
    if FAILURES not in cfg.skip and (cfg.metrics is None or FAILURES in cfg.metrics):
        missing = lambda side: sum(1 for i in items if i not in side.stories)  # noqa: E731
        checks.append(compare_single(FAILURES, "failures", missing(b), missing(c), b, c, cfg))
    return checks


@dataclass
class RegressResult:
    baseline: Side
    candidate: Side
    pairs: list[tuple[str, str]]
    config: RegressConfig
    hardware_reason: str | None
    checks: list[Check]
    notes: list[str]

    @property
    def regressions(self) -> list[Check]:
        return [c for c in self.checks if c.regressed]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def to_dict(self) -> dict[str, Any]:
        side = lambda s: {"source": s.source, "kind": s.kind, "run_id": s.run_id, "suite": s.suite,  # noqa: E731
                          "split": s.split, "suite_hash": s.suite_hash, "items": len(s.item_ids),
                          "git_sha": s.git_sha, "created": s.created, "hardware": s.hardware}
        cfg = self.config
        return dump_record(RegressReport.model_validate({
            "schema": REGRESS_SCHEMA,
            "verdict": "regression" if self.regressions else "pass",
            "regressions": [f"{c.model}:{c.metric}" if len(self.pairs) > 1 else c.metric for c in self.regressions],
            "baseline": side(self.baseline), "candidate": side(self.candidate),
            "pairs": [list(p) for p in self.pairs],
            "hardware_match": self.hardware_reason is None, "hardware_reason": self.hardware_reason,
            "method": {"test": "cluster bootstrap over suite items of the mean per-item difference (evalkit.significance)",
                       "confidence": cfg.confidence, "resamples": cfg.resamples, "seed": cfg.seed,
                       "min_pairs": cfg.min_pairs},
            "checks": [asdict(c) for c in self.checks],
            "notes": self.notes,
        }))


def regress(base: Side, cand: Side, cfg: RegressConfig, base_label: str | None = None,
            cand_label: str | None = None) -> RegressResult:
    notes = check_comparable(base, cand)
    pairs = pair_models(base, cand, base_label, cand_label)
    hw_reason = hardware_mismatch(base.hardware, cand.hardware, cfg.hardware_keys)
    checks = [c for b, k in pairs for c in compare_pair(base, cand, b, k, cfg, hw_reason)]
    notes += [f"baseline: {n}" for n in base.notes] + [f"candidate: {n}" for n in cand.notes]
    return RegressResult(base, cand, pairs, cfg, hw_reason, checks, notes)


def suite_regress_config(side: Side) -> tuple[RegressConfig, str | None]:
    """[regress] of the suite as it is now on disk (tolerances may be tuned without re-pinning)."""
    try:
        suite = load_suite(side.suite_path if side.suite_path and Path(side.suite_path).is_dir() else side.suite)
    except EvalkitError as e:
        return RegressConfig(), f"suite {side.suite!r} not found here ({e}): built-in tolerances used"
    return RegressConfig.from_suite_config(suite.config, str(suite.path / "suite.toml")), None
