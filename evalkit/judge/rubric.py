"""Rubrics as data: one TOML per criterion shipped in evalkit/judge/rubrics/, overridable per suite.

A suite overrides or adds criteria under ``[judge]`` in suite.toml: ``rubrics = "FOLDER"`` (TOML files,
relative to the suite folder) and/or inline tables ``[judge.rubrics.NAME]``; ``criteria = [...]``
picks which ones run (default: every rubric known).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalkit.errors import EvalkitError
from evalkit.records import stable_hash

RUBRICS_DIR = Path(__file__).with_name("rubrics")
SCALE = (1, 2, 3, 4, 5)
BUILTIN_ORDER = ("coherence", "creativity", "genre", "age", "overall")


class Rubric(BaseModel):
    """One criterion the judge rates from 1 to 5."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="short id; the metric is judge_<name>")
    title: str = Field(description="the criterion's name as shown to the judge and in reports")
    version: int = Field(1, description="bumped by hand when the wording changes meaningfully")
    question: str = Field(description="what the judge is asked; may use {genre} and {genre_definition}")
    scale: list[str] = Field(description="one line per rating 1..5 saying what it means")

    @field_validator("scale")
    @classmethod
    def _five(cls, v: list[str]) -> list[str]:
        if len(v) != len(SCALE):
            raise ValueError(f"needs {len(SCALE)} lines, one per rating 1..5 (got {len(v)})")
        return v

    @field_validator("name")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not v.replace("_", "").isalnum():
            raise ValueError("must be letters, digits and underscores")
        return v

    @property
    def metric(self) -> str:
        return f"judge_{self.name}"

    def digest(self) -> str:
        """Identity of the wording: any edit gives new cache keys."""
        return stable_hash(self.model_dump(), 12)


def _parse(data: dict[str, Any], where: str) -> Rubric:
    try:
        return Rubric.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise EvalkitError(f"{where}: rubric field {'.'.join(map(str, err['loc'])) or '?'}: {err['msg']}") from None


def _read(path: Path) -> Rubric:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise EvalkitError(f"{path}: {e}") from None
    return _parse(data, str(path))


def builtin_rubrics() -> dict[str, Rubric]:
    found = {r.name: r for r in map(_read, sorted(RUBRICS_DIR.glob("*.toml")))}
    return {n: found[n] for n in sorted(found, key=lambda n: (BUILTIN_ORDER + (n,)).index(n))}


def load_rubrics(suite: Any = None) -> list[Rubric]:
    """The rubrics to run: built-in ones, overridden by the suite's [judge] table, in a stable order."""
    rubrics = builtin_rubrics()
    conf = (getattr(suite, "config", None) or {}).get("judge", {}) if suite is not None else {}
    if not isinstance(conf, dict):
        raise EvalkitError("suite.toml: [judge] must be a table")
    folder = conf.get("rubrics")
    if isinstance(folder, str):
        root = Path(getattr(suite, "path", ".")) / folder
        if not root.is_dir():
            raise EvalkitError(f"suite.toml [judge] rubrics: folder {root} does not exist")
        for f in sorted(root.glob("*.toml")):
            r = _read(f)
            rubrics[r.name] = r
    elif isinstance(folder, dict):
        for name, table in folder.items():
            if not isinstance(table, dict):
                raise EvalkitError(f"suite.toml [judge.rubrics.{name}] must be a table")
            base = rubrics[name].model_dump() if name in rubrics else {}
            rubrics[name] = _parse({**base, **table, "name": name}, f"suite.toml [judge.rubrics.{name}]")
    elif folder is not None:
        raise EvalkitError("suite.toml [judge] rubrics must be a folder name or tables of rubrics")
    chosen = conf.get("criteria")
    if chosen is None:
        return list(rubrics.values())
    unknown = [c for c in chosen if c not in rubrics]
    if unknown:
        raise EvalkitError(f"suite.toml [judge] criteria: unknown {', '.join(unknown)}; known: {', '.join(rubrics)}")
    return [rubrics[c] for c in chosen]
