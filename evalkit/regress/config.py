"""The gate's settings: tolerances (suite.toml [regress], else built in) and the bootstrap's."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.stats import SEED

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
