"""Appended JSONL caches (score cache, judge cache): read with repair, appended without duplicates.

Several processes may share one cache folder (two `evalkit score` runs, a compare and a report). Both
operations take the file's lock (``<file>.lock``, the one ``append_jsonl`` takes):

- ``read_cache`` keeps every valid line. A line that is torn, not UTF-8 or JSON, not a record of the
  cache's kind, or refused by the caller's ``refuse`` (another scorer's line, a checksum that does not
  match its numbers after a hand edit) is skipped and named in ONE warning line on stderr (file:line),
  and the file is rewritten atomically without it, so its entry is computed again and stored once;
- ``append_new`` appends only records whose key the file does not hold yet (read under the lock), so
  two runs that computed the same entry at the same time store it once.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock
from pydantic import BaseModel, ValidationError

from evalkit.records.io import append_lines_locked, jsonl_line, named, write_text

M = TypeVar("M", bound=BaseModel)
Refuse = Callable[[Any], "str | None"]


def _scan(path: Path, model: type[M], refuse: Refuse | None) -> tuple[list[M], list[str], list[tuple[int, str]]]:
    """(valid records, their lines as written, (line number, why) of each damaged line)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], [], []
    records: list[M] = []
    keep: list[str] = []
    bad: list[tuple[int, str]] = []
    for n, line_b in enumerate(raw.split(b"\n"), 1):
        if not line_b.strip():
            continue
        try:
            line = line_b.decode("utf-8")
            rec = model.model_validate(json.loads(line))
        except UnicodeDecodeError:
            bad.append((n, "not UTF-8 text"))
            continue
        except json.JSONDecodeError:
            bad.append((n, "not JSON: torn or edited"))
            continue
        except ValidationError as e:
            bad.append((n, f"not a {model.__name__} record: {e.errors()[0]['loc'] or '?'} {e.errors()[0]['msg']}"[:120]))
            continue
        why = refuse(rec) if refuse is not None else None
        if why:
            bad.append((n, why))
            continue
        records.append(rec)
        keep.append(line + "\n")
    return records, keep, bad


def read_cache(path: str | os.PathLike[str], model: type[M], refuse: Refuse | None = None) -> list[M]:
    """The valid records of a cache file (none when it does not exist); damaged lines are skipped,
    warned about in one line and removed from the file (see the module docstring)."""
    path = Path(path)
    records, _, bad = _scan(path, model, refuse)
    if not bad:
        return records
    try:
        with FileLock(str(path) + ".lock"):
            # again under the lock: a line being appended looked torn, or another process repaired it
            records, keep, bad = _scan(path, model, refuse)
            if not bad:
                return records
            write_text(path, "".join(keep))
        done = "the file was rewritten without it"
    except OSError as e:
        done = f"the file could not be rewritten ({named(e, path).strerror or e})"
    n, why = bad[0]
    more = ""
    if len(bad) > 1:
        shown = ", ".join(str(m) for m, _ in bad[1:6]) + (", ..." if len(bad) > 6 else "")
        more = f" (and {len(bad) - 1} more: line {shown})"
    sys.stderr.write(f"warning: {path}:{n}: skipped a damaged cache line ({why}){more}; its entry is computed "
                     f"again and {done}\n")
    return records


def _keys(path: Path) -> set[str]:
    keys = set()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return keys
    for line in raw.split(b"\n"):
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(obj, dict) and isinstance(obj.get("key"), str):
            keys.add(obj["key"])
    return keys


def append_new(path: str | os.PathLike[str], records: Sequence[Any]) -> list[Any]:
    """Append the records (each with a ``key``) the file does not hold yet; returns those appended."""
    path = Path(path)
    if not records:
        return []
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(path) + ".lock"):
            present = _keys(path)
            fresh = []
            for r in records:
                if r.key not in present:
                    present.add(r.key)
                    fresh.append(r)
            if fresh:
                append_lines_locked(path, [jsonl_line(r) for r in fresh])
    except OSError as e:
        raise named(e, path) from None
    return fresh
