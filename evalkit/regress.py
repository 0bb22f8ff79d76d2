"""The noise-aware regression gate: a candidate run against a pinned baseline on the same suite items.

For each metric the per-story differences (candidate - baseline, paired by suite item) get a seeded
percentile cluster-bootstrap CI of their mean (evalkit.significance, the star table's test; 10,000 resamples, 95%). A metric regresses
when its mean got worse by more than its tolerance (suite.toml [regress], absolute or relative to the
baseline mean) AND the CI excludes zero on the worse side: a drop that noise could explain never
fails the gate, and neither does a real but tolerated one. Speed (seconds_per_story, per story) and
peak memory (one reading per model: tolerance only) are compared only when the hardware matches.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, RecordError
from evalkit.records import (
    BASELINE_SCHEMA,
    REGRESS_SCHEMA,
    Baseline,
    RegressReport,
    ScoreRecord,
    dump_record,
    iter_jsonl,
    load_manifest,
    read_json,
    stable_hash,
    write_json,
)
from evalkit.significance import clustered_test
from evalkit.stats import SEED, mean_of
from evalkit.suites import find_run_suite

SPEED = ("seconds_per_story", "tokens_per_s", "ttft_s")
MEMORY, FAILURES = "peak_memory_gb", "failed_stories"
# Built-in tolerances where suite.toml says nothing: speed and memory vary more between runs.
BUILTIN_TOLERANCE = {"seconds_per_story": ("relative", 0.25), MEMORY: ("relative", 0.10), FAILURES: ("absolute", 0.0)}
BUILTIN_SKIP = ("tokens_per_s", "ttft_s")  # seconds_per_story already gates speed
# Hardware keys that change between two runs on the same machine: never a reason to skip speed.
VOLATILE_HW = re.compile(r"free|avail|used|load|percent|uptime|time|date|host|pid", re.I)


# ------------------------------------------------------------------ settings

@dataclass(frozen=True)
class Tolerance:
    kind: str  # "absolute" | "relative"
    value: float

    def resolve(self, baseline_mean: float | None) -> float:
        if self.kind == "absolute":
            return self.value
        return self.value * abs(baseline_mean or 0.0)

    def text(self) -> str:
        return f"±{self.value:g}" if self.kind == "absolute" else f"{self.value * 100:g}%"


@dataclass
class RegressConfig:
    confidence: float = 0.95
    resamples: int = 10_000
    seed: int = SEED
    min_pairs: int = 3
    default: Tolerance = Tolerance("relative", 0.05)
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    metrics: list[str] | None = None  # gate only these (None: every metric with a direction)
    skip: tuple[str, ...] = BUILTIN_SKIP
    hardware_keys: list[str] | None = None

    def tolerance(self, metric: str) -> Tolerance:
        if metric in self.tolerances:
            return self.tolerances[metric]
        if metric in BUILTIN_TOLERANCE:
            return Tolerance(*BUILTIN_TOLERANCE[metric])
        return self.default

    @classmethod
    def from_suite_config(cls, config: dict[str, Any], where: str = "suite.toml") -> RegressConfig:
        sec = config.get("regress", {})
        if not isinstance(sec, dict):
            raise EvalkitError(f"{where}: [regress] must be a table")
        out = cls()
        try:
            out.confidence = float(sec.get("confidence", out.confidence))
            out.resamples = int(sec.get("resamples", out.resamples))
            out.seed = int(sec.get("seed", out.seed))
            out.min_pairs = int(sec.get("min_pairs", out.min_pairs))
        except (TypeError, ValueError) as e:
            raise EvalkitError(f"{where}: [regress] {e}") from None
        if not 0.5 <= out.confidence < 1 or out.resamples < 100 or out.min_pairs < 2:
            raise EvalkitError(f"{where}: [regress] needs 0.5 <= confidence < 1, resamples >= 100, min_pairs >= 2")
        if "default" in sec:
            out.default = _tolerance(sec["default"], f"{where}: [regress] default")
        tol = sec.get("tolerance", {})
        if not isinstance(tol, dict):
            raise EvalkitError(f"{where}: [regress.tolerance] must map metric names to tolerances")
        out.tolerances = {k: _tolerance(v, f"{where}: [regress.tolerance] {k}") for k, v in tol.items()}
        for key in ("metrics", "skip", "hardware_keys"):
            if key in sec:
                v = sec[key]
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise EvalkitError(f"{where}: [regress] {key} must be a list of names")
                setattr(out, key, tuple(v) if key == "skip" else list(v))
        return out


def _tolerance(v: Any, where: str) -> Tolerance:
    """A bare number is absolute; a table holds exactly one of ``absolute`` or ``relative``."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = {"absolute": v}
    if not isinstance(v, dict) or len(v) != 1 or next(iter(v)) not in ("absolute", "relative"):
        raise EvalkitError(f"{where}: give {{absolute = X}} or {{relative = X}}")
    kind, value = next(iter(v.items()))
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or not math.isfinite(value):
        raise EvalkitError(f"{where}: tolerance must be a number >= 0")
    return Tolerance(kind, float(value))


# ------------------------------------------------------------------ the two sides

@dataclass
class ModelSide:
    label: str
    stories: dict[str, dict[str, float | None]]  # item_id -> metric -> value
    measurements: dict[str, Any] = field(default_factory=dict)


@dataclass
class Side:
    source: str
    kind: str  # "run" | "pinned"
    run_id: str
    suite: str
    suite_path: str
    suite_hash: str
    split: str
    item_ids: list[str]
    item_hashes: dict[str, str] | None
    hardware: dict[str, Any]
    params: dict[str, Any]
    created: str | None
    git_sha: str | None
    metrics: dict[str, dict[str, Any]]
    models: dict[str, ModelSide]
    notes: list[str] = field(default_factory=list)
    scorers: list[str] | None = None  # the scorers the run used (None: every installed one)

    def describe(self) -> str:
        sha = f", git {self.git_sha[:10]}" if self.git_sha else ""
        return f"{self.kind} {self.run_id} ({self.suite}/{self.split}, {len(self.item_ids)} items{sha})"


def load_run(run_dir: str | Path) -> Side:
    """A finished, scored run folder as one side of the comparison: its manifest, stored scores and
    summary, and the suite version the run used (for the items' content hashes)."""
    run_dir = Path(run_dir)
    m = load_manifest(run_dir)
    if m.status != "complete":
        raise EvalkitError(f"run {run_dir} did not finish (status {m.status}): it cannot be compared")
    summary = read_json(run_dir / "summary.json")  # a missing file is an error
    if not isinstance(summary, dict) or not isinstance(summary.get("metrics"), dict):
        raise RecordError(f"{run_dir / 'summary.json'}: not an evalkit summary")
    problems: list[str] = []
    models: dict[str, ModelSide] = {r.label: ModelSide(r.label, {}) for r in m.models}
    values: dict[tuple[str, str], dict[str, list[float | None]]] = {}  # (model, item) -> metric -> per sample
    for rec in iter_jsonl(run_dir / "scores.jsonl", ScoreRecord, problems):
        if rec.model in models:
            per = values.setdefault((rec.model, rec.item_id), {})
            for k, v in rec.scores.items():
                per.setdefault(k, []).append(v)
    for (label, item), per in values.items():  # --samples: an item's samples averaged, as the star table does
        models[label].stories[item] = {k: mean_of(vs)[0] for k, vs in per.items()}
    if problems:  # a lost score line would read as a failed story: a false regression, never a verdict
        raise RecordError(damaged_scores_message(run_dir, m.run_id, problems))
    for label, side in models.items():
        side.measurements = dict(summary.get("measurements", {}).get(label, {}))
    # item content hashes only from the suite version the run used (None when it changed or is gone)
    suite, _ = find_run_suite(m.suite.path, m.suite.name, m.suite.hash)
    hashes = {i.id: i.content_hash() for i in suite.items} if suite is not None else None
    return Side(
        source=str(run_dir), kind="run", run_id=m.run_id, suite=m.suite.name, suite_path=m.suite.path,
        suite_hash=m.suite.hash, split=m.suite.split, item_ids=list(m.suite.item_ids),
        item_hashes={i: hashes[i] for i in m.suite.item_ids if i in hashes} if hashes else None,
        hardware=dict(m.hardware), params=m.params.cache_fields(), created=m.created, git_sha=m.git_sha,
        metrics=summary["metrics"], models=models, notes=problems, scorers=m.scorers,
    )


def damaged_scores_message(run_dir: Path, run_id: str, problems: list[str]) -> str:
    """One line naming the first damaged scores.jsonl line (file:line) and how to score the run again."""
    first = problems[0].replace(": skipped a damaged line (", ": damaged line (", 1)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (f"{first}{more}: run {run_id} cannot be compared; score it again from its stored stories: delete "
            f"{run_dir / 'scores.jsonl'} and {run_dir / 'summary.json'}, then run `evalkit report {shlex.quote(str(run_dir))} --rerate`")


def pinned_dict(side: Side, labels: list[str] | None = None) -> dict[str, Any]:
    """The small, weight-free JSON a pinned baseline file holds."""
    chosen = labels or list(side.models)
    missing = [x for x in chosen if x not in side.models]
    if missing:
        raise EvalkitError(f"model(s) {', '.join(missing)} not in run {side.run_id}: it has {', '.join(side.models)}")
    return {
        "schema": BASELINE_SCHEMA,
        "source_run": side.run_id,
        "created": side.created,
        "git_sha": side.git_sha,
        "suite": {"name": side.suite, "path": side.suite_path, "hash": side.suite_hash, "split": side.split,
                  "item_ids": side.item_ids, "item_hashes": side.item_hashes},
        "hardware": side.hardware,
        "params": side.params,
        "scorers": side.scorers,
        "metrics": side.metrics,
        "models": {x: {"measurements": side.models[x].measurements,
                       "stories": {i: side.models[x].stories[i] for i in side.item_ids if i in side.models[x].stories}}
                   for x in chosen},
    }


def pin_baseline(run_dir: str | Path, out: str | Path, labels: list[str] | None = None) -> dict[str, Any]:
    data = pinned_dict(load_run(run_dir), labels)
    data["content_hash"] = stable_hash(data)
    write_json(out, Baseline.model_validate(data))
    return data


def load_pinned(path: str | Path) -> Side:
    data = read_json(path)
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        raise RecordError(f"{path}: not a pinned evalkit baseline (schema {BASELINE_SCHEMA})")
    try:
        body = {k: v for k, v in data.items() if k != "content_hash"}
        # content_hash came with the first baseline schema (no evalkit.baseline file predates it), so a
        # file without one was edited: deleting the hash must not switch the tamper check off
        if "content_hash" not in data:
            raise RecordError(f"{path}: no content_hash (every {BASELINE_SCHEMA} file has one): the file was "
                              "edited or damaged; pin it again")
        if stable_hash(body) != data["content_hash"]:
            raise RecordError(f"{path}: content hash does not match: the file was edited or damaged; pin it again")
        s = data["suite"]
        models = {x: ModelSide(x, {i: dict(v) for i, v in d["stories"].items()}, dict(d.get("measurements", {})))
                  for x, d in data["models"].items()}
        return Side(
            source=str(path), kind="pinned", run_id=data.get("source_run", Path(path).stem), suite=s["name"],
            suite_path=s.get("path", ""), suite_hash=s.get("hash", ""), split=s["split"], item_ids=list(s["item_ids"]),
            item_hashes=s.get("item_hashes"), hardware=dict(data.get("hardware", {})), params=dict(data.get("params", {})),
            created=data.get("created"), git_sha=data.get("git_sha"), metrics=dict(data["metrics"]), models=models,
            scorers=data.get("scorers"),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise RecordError(f"{path}: damaged pinned baseline ({type(e).__name__}: {e})") from None


def load_side(ref: str | Path, results_dir: str | Path | None = None) -> Side:
    """A run folder, a run id inside ``results_dir``, or a pinned baseline file."""
    p = Path(ref)
    if not p.exists() and results_dir is not None and (Path(results_dir) / str(ref)).exists():
        p = Path(results_dir) / str(ref)
    if p.is_dir():
        return load_run(p)
    if p.is_file():
        return load_pinned(p)
    raise EvalkitError(f"{ref}: no run folder or pinned baseline file there")


# ------------------------------------------------------------------ checks

def check_comparable(base: Side, cand: Side) -> list[str]:
    """Raise (exit 2) unless both sides ran the same suite items; return notes on smaller differences."""
    if base.suite != cand.suite:
        raise EvalkitError(f"baseline ran suite {base.suite!r} but candidate ran suite {cand.suite!r}: compare runs of one suite")
    if base.split != cand.split:
        raise EvalkitError(f"baseline ran split {base.split!r} but candidate ran split {cand.split!r} of suite {base.suite!r}")
    b, c = set(base.item_ids), set(cand.item_ids)
    if b != c:
        only_b, only_c = sorted(b - c), sorted(c - b)
        raise EvalkitError(
            f"baseline and candidate ran different items of suite {base.suite!r}: "
            f"{len(only_b)} only in baseline ({', '.join(only_b[:3])}{'...' if len(only_b) > 3 else ''}), "
            f"{len(only_c)} only in candidate ({', '.join(only_c[:3])}{'...' if len(only_c) > 3 else ''})"
        )
    notes = []
    if base.item_hashes and cand.item_hashes:
        changed = sorted(i for i in b if base.item_hashes.get(i) != cand.item_hashes.get(i))
        if changed:
            raise EvalkitError(
                f"{len(changed)} item(s) of suite {base.suite!r} changed their prompt since the baseline "
                f"({', '.join(changed[:3])}): pin a new baseline"
            )
    if base.suite_hash and cand.suite_hash and base.suite_hash != cand.suite_hash:
        notes.append(f"suite files differ (hash {base.suite_hash} vs {cand.suite_hash}); the item ids are the same")
    diffs = [f"{k} {base.params.get(k)!r} -> {cand.params.get(k)!r}"
             for k in sorted(set(base.params) | set(cand.params)) if base.params.get(k) != cand.params.get(k)]
    if diffs:
        notes.append("generation settings differ: " + ", ".join(diffs))
    return notes


def hardware_mismatch(a: dict[str, Any], b: dict[str, Any], keys: list[str] | None = None) -> str | None:
    """Why speed and memory cannot be compared, or None when the hardware matches."""
    if not a or not b:
        return "hardware not recorded in " + ("both runs" if not a and not b else "baseline" if not a else "candidate")
    names = keys if keys is not None else sorted(k for k in set(a) | set(b) if not VOLATILE_HW.search(k))
    diffs = [f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in names if a.get(k) != b.get(k)]
    return "hardware differs (" + "; ".join(diffs) + ")" if diffs else None


def pair_models(base: Side, cand: Side, base_label: str | None = None, cand_label: str | None = None) -> list[tuple[str, str]]:
    for label, side, name in ((base_label, base, "baseline"), (cand_label, cand, "candidate")):
        if label is not None and label not in side.models:
            raise EvalkitError(f"no model {label!r} in the {name}: it has {', '.join(side.models) or 'none'}")
    if base_label or cand_label:
        b = [base_label] if base_label else list(base.models)
        c = [cand_label] if cand_label else list(cand.models)
        if len(b) == 1 and len(c) == 1:
            return [(b[0], c[0])]
        if base_label and base_label in cand.models:
            return [(base_label, base_label)]
        if cand_label and cand_label in base.models:
            return [(cand_label, cand_label)]
        raise EvalkitError("name both --baseline-model and --candidate-model: the pairing is ambiguous")
    if len(base.models) == 1 and len(cand.models) == 1:
        return [(next(iter(base.models)), next(iter(cand.models)))]
    common = [x for x in base.models if x in cand.models]
    if not common:
        raise EvalkitError(
            f"no model label in both runs (baseline: {', '.join(base.models)}; candidate: {', '.join(cand.models)}): "
            "pick them with --baseline-model and --candidate-model"
        )
    return [(x, x) for x in common]


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
    from evalkit.suites import load_suite

    try:
        suite = load_suite(side.suite_path if side.suite_path and Path(side.suite_path).is_dir() else side.suite)
    except EvalkitError as e:
        return RegressConfig(), f"suite {side.suite!r} not found here ({e}): built-in tolerances used"
    return RegressConfig.from_suite_config(suite.config, str(suite.path / "suite.toml")), None
