"""Any Hugging Face ``evaluate`` metric module from a local path, used as an evalkit scorer.

``evaluate.load(PATH)`` imports a metric script (a folder holding NAME.py, or the .py file) without
the hub. Each story is computed on its own (``predictions=[story]``, ``references=[reference]`` when
the metric takes references), so every number is per story and can be bootstrapped. Every numeric
field of the result becomes a metric ``NAME_FIELD`` (a list of one number counts as a number).

Use it from the command line with ``evalkit score STORIES.jsonl --scorers repetition,evaluate:PATH``,
or register a class made by ``evaluate_scorer_class`` under the ``evalkit.scorers`` entry points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.scorers.base import Direction, Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import clean


def _numbers(result: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, v in (result or {}).items():
        if isinstance(v, (list, tuple)) and len(v) == 1:
            v = v[0]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        out[str(key)] = float(v)
    return out


class EvaluateScorer(Scorer):
    """One evaluate metric; ``name`` prefixes its fields, ``direction`` is what the user says it is."""

    name = "evaluate"
    metrics: tuple[Metric, ...] = ()

    def __init__(self, path: str | Path, name: str | None = None, direction: Direction = "none",
                 fields: Sequence[str] = (), compute_kwargs: dict[str, Any] | None = None):
        p = Path(path).expanduser()
        if not p.exists():
            raise EvalkitError(f"evaluate metric {str(path)!r}: no such file or folder")
        self.path = p
        self.name = name or (p.stem if p.is_file() else p.name)
        self.direction = direction
        self.compute_kwargs = compute_kwargs or {}
        self.metrics = tuple(Metric(f"{self.name}_{f}", direction, description=f"evaluate metric {self.name}: {f}")
                             for f in fields) or (Metric(self.name, direction, description=f"evaluate metric from {p}"),)
        self._module: Any = None

    def _load(self):
        if self._module is None:
            import evaluate

            try:
                self._module = evaluate.load(str(self.path))
            except Exception as e:  # a broken metric script is the user's to fix: say which
                raise EvalkitError(f"evaluate metric {str(self.path)!r} does not load: {type(e).__name__}: {e}") from None
        return self._module

    def _needs_references(self, module: Any) -> bool:
        feats = module.features
        feats = feats[0] if isinstance(feats, list) else feats
        return "references" in (feats or {})

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        module = self._load()
        needs_ref = self._needs_references(module)
        out = []
        for s in stories:
            r = StoryScores()
            kwargs: dict[str, Any] = {"predictions": [clean(s.text)], **self.compute_kwargs}
            if needs_ref:
                if not s.reference:
                    r.values = {m.name: None for m in self.metrics}
                    r.notes = {m.name: "not scorable: the metric needs a reference story" for m in self.metrics}
                    out.append(r)
                    continue
                kwargs["references"] = [clean(s.reference)]
            try:
                nums = _numbers(module.compute(**kwargs))
            except Exception as e:  # one story the metric cannot handle must not stop the others
                r.values = {m.name: None for m in self.metrics}
                r.notes = {m.name: f"not scorable: {type(e).__name__}: {e}"[:200] for m in self.metrics}
                out.append(r)
                continue
            if len(nums) == 1 and len(self.metrics) == 1 and self.metrics[0].name == self.name:
                r.values[self.name] = next(iter(nums.values()))
            else:
                r.values = {f"{self.name}_{k}": v if math.isfinite(v) else None for k, v in nums.items()}
                for m in self.metrics:
                    r.values.setdefault(m.name, None)
            out.append(r)
        return out


def evaluate_scorer_class(path: str | Path, name: str, direction: Direction = "none",
                          fields: Sequence[str] = ()) -> type[EvaluateScorer]:
    """A zero-argument Scorer class for one local metric, to register as an entry point."""

    class _Bound(EvaluateScorer):
        def __init__(self) -> None:
            super().__init__(path, name, direction, fields)

    _Bound.__name__ = f"Evaluate_{name}"
    return _Bound
