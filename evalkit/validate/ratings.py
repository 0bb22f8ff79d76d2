"""A CSV of human-rated stories, read and checked: which column is the story, the system that wrote
it, the group (prompt) it answers and each rated criterion.

HANNA's columns work as they are (story, model, prompt_id, prompt, Coherence, Surprise, ...); other
files map theirs with ``ColumnMap``. Every problem is an EvalkitError naming the columns or rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError

HANNA_CRITERIA = ("Relevance", "Coherence", "Empathy", "Surprise", "Engagement", "Complexity")
MIN_GROUPS = 3


@dataclass(frozen=True)
class ColumnMap:
    story: str = "story"
    system: str = "model"
    group: str = "prompt_id"
    prompt: str | None = "prompt"  # optional: used by scorers that read the prompt (relevance)
    id: str | None = "story_id"  # optional: a stable id per story
    criteria: tuple[str, ...] = ()  # empty: HANNA's criteria that the file has
    human_system: str | None = None  # None: "Human" when that system is present


@dataclass
class Ratings:
    """The checked table: one row per story, columns story/system/group/prompt/id and criteria."""

    frame: Any  # pandas DataFrame
    criteria: list[str]
    human_system: str | None
    source: str
    columns: ColumnMap = field(default_factory=ColumnMap)

    @property
    def n_groups(self) -> int:
        return int(self.frame["group"].nunique())

    @property
    def systems(self) -> list[str]:
        return sorted(self.frame["system"].unique())


def _rows(idx: list[int]) -> str:
    shown = ", ".join(str(i + 2) for i in idx[:8])  # +2: the header is line 1, rows start at line 2
    return shown + (f" (and {len(idx) - 8} more)" if len(idx) > 8 else "")


def load_ratings(path: str | Path, columns: ColumnMap = ColumnMap()) -> Ratings:
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise EvalkitError(f"{path}: no such file (expected a CSV of rated stories)")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise EvalkitError(f"{path}: not a readable CSV ({type(e).__name__}: {str(e).strip().splitlines()[0][:200]})") from None
    have = list(df.columns)
    needed = {"--story-col": columns.story, "--system-col": columns.system, "--group-col": columns.group}
    missing = [f"{col!r} ({opt})" for opt, col in needed.items() if col not in have]
    criteria = list(columns.criteria) or [c for c in HANNA_CRITERIA if c in have]
    if not criteria:
        missing.append("a rating column (--criterion NAME)")
    missing += [f"{c!r} (--criterion)" for c in columns.criteria if c not in have]
    if missing:
        raise EvalkitError(f"{path}: missing column(s) {', '.join(missing)}; the file has {', '.join(map(repr, have[:20]))}")
    out = pd.DataFrame({
        "story": df[columns.story],
        "system": df[columns.system].str.strip(),
        "group": df[columns.group].str.strip(),
        "prompt": df[columns.prompt] if columns.prompt and columns.prompt in have else "",
        "id": df[columns.id] if columns.id and columns.id in have else [str(i + 2) for i in range(len(df))],
    })
    for col, opt in ((columns.system, "system"), (columns.group, "group")):
        empty = [i for i, v in enumerate(out[opt]) if not v]
        if empty:
            raise EvalkitError(f"{path}: column {col!r} is empty on row(s) {_rows(empty)}")
    empty = [i for i, v in enumerate(out["story"]) if not v.strip()]
    if empty:
        raise EvalkitError(f"{path}: column {columns.story!r} (the story) is empty on row(s) {_rows(empty)}")
    for c in criteria:
        values = pd.to_numeric(df[c].str.strip().replace("", None), errors="coerce")
        bad = [i for i, (raw, v) in enumerate(zip(df[c], values)) if raw.strip() and v != v]
        if bad:
            raise EvalkitError(f"{path}: rating column {c!r} is not numeric on row(s) {_rows(bad)} "
                               f"(e.g. {df[c].iloc[bad[0]][:30]!r})")
        if values.notna().sum() == 0:
            raise EvalkitError(f"{path}: rating column {c!r} has no ratings")
        out[c] = values.astype(float)
    systems = sorted(out["system"].unique())
    if len(systems) < 2:
        raise EvalkitError(f"{path}: only one system ({systems[0]!r} in column {columns.system!r}); "
                           "validation compares the ratings of two or more systems")
    n_groups = out["group"].nunique()
    if n_groups < MIN_GROUPS:
        raise EvalkitError(f"{path}: {n_groups} group(s) in column {columns.group!r}; at least {MIN_GROUPS} "
                           "prompts are needed for a bootstrap over prompts")
    human = columns.human_system
    if human is not None and human not in systems:
        raise EvalkitError(f"{path}: --human-system {human!r} is not a system of column {columns.system!r} "
                           f"({', '.join(systems[:12])})")
    if human is None and "Human" in systems:
        human = "Human"
    return Ratings(out.reset_index(drop=True), criteria, human, str(path), columns)
