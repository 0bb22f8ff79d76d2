"""The two sides of a regression check: a run folder or a pinned baseline, and whether they compare."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, RecordError
from evalkit.records import (
    BASELINE_SCHEMA,
    Baseline,
    ScoreRecord,
    iter_jsonl,
    load_manifest,
    random_weights_run,
    read_json,
    stable_hash,
    write_json,
)
from evalkit.regress.config import VOLATILE_HW
from evalkit.stats import mean_of
from evalkit.suites import find_run_suite

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
    if random_weights_run(m):
        raise EvalkitError(f"run {run_dir} measured random weights (speed and memory, no stories): it cannot be compared")
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
