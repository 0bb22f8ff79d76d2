"""How records are stored: the record base classes, and atomic file I/O.

JSON files are replaced atomically and JSONL lines are appended whole under a file lock, so a killed
process never leaves a record that later stages trust half-written (a torn last line is skipped and
reported).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from filelock import FileLock
from pydantic import BaseModel, ConfigDict, ValidationError, model_serializer

from evalkit.errors import EvalkitError, RecordError

Number = float | int  # ints stay ints when written (no 0 -> 0.0): the files stay byte-identical


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys), cut to ``length`` hex digits."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:length]


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class WrittenRecord(BaseModel):
    """A stage output only evalkit writes: unknown keys are refused, so a typo never passes silently.
    Keys named in ``_omit_if_none`` are left out of the file when None (as the hand-built dicts did)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())
    _omit_if_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: Any) -> Any:
        data = handler(self)
        for key in self._omit_if_none:
            if data.get(key) is None:
                data.pop(key, None)
        return data


def dump_record(record: BaseModel) -> dict[str, Any]:
    return record.model_dump(mode="json", by_alias=True)


# ---------------------------------------------------------------- atomic file I/O

def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON atomically (see write_text)."""
    data = obj.model_dump(mode="json", by_alias=True) if isinstance(obj, BaseModel) else obj
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomic write: a temp file in the same folder, fsync, then rename over the target, so a reader
    sees the old file or the new one, never half of one."""
    path = Path(path)
    if path.exists() and not path.is_file():  # renaming over a device or folder would destroy it
        raise EvalkitError(f"{path}: not a regular file (a folder, device or other special file): "
                           "refusing to replace it; choose a file path")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # name the file asked for, not the temp name
        raise OSError(e.errno, f"cannot create a file in {path.parent} ({e.strerror})", str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; records are meant to be shared like any file
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise named(e, path) from None
        raise


def named(e: OSError, path: str | os.PathLike[str]) -> OSError:
    """The error with the file it was about: writes through an open file do not say which."""
    if e.filename is None or str(e.filename).endswith(".tmp"):
        return type(e)(e.errno, e.strerror or str(e), str(path))
    return e


def read_json(path: str | os.PathLike[str]) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise RecordError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RecordError(f"{path}: damaged JSON ({e})") from None


def append_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> None:
    """Append whole lines under an exclusive lock, one write per line, fsync'd."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [jsonl_line(r) for r in records]
    if not lines:
        return
    try:
        with FileLock(str(path) + ".lock"):
            append_lines_locked(path, lines)
    except OSError as e:
        raise named(e, path) from None


def jsonl_line(record: Any) -> str:
    data = record.model_dump(mode="json", by_alias=True) if isinstance(record, BaseModel) else record
    return json.dumps(data, ensure_ascii=False) + "\n"


def append_lines_locked(path: Path, lines: Sequence[str]) -> None:
    """Append whole lines, fsync'd; the caller holds the file's lock (``<path>.lock``)."""
    with open(path, "a", encoding="utf-8") as f:
        # A torn last line (killed writer) would glue onto ours: start on a fresh line.
        if f.tell() > 0 and not _ends_with_newline(path):
            f.write("\n")
        for line in lines:
            f.write(line)
        f.flush()
        os.fsync(f.fileno())


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


M = TypeVar("M", bound=BaseModel)


def iter_jsonl(path: str | os.PathLike[str], model: type[M], problems: list[str] | None = None) -> Iterator[M]:
    """Yield valid records; damaged lines are skipped and described in ``problems``."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield model.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as e:
                if problems is not None:
                    problems.append(f"{path}:{n}: skipped a damaged line ({type(e).__name__})")


def json_object_lines(raw: bytes, path: str | os.PathLike[str], problems: list[str],
                      expect: str = "a JSON object") -> Iterator[tuple[int, str, dict[str, Any]]]:
    """The one reader of hand-written JSONL (suite stories, `evalkit score` input): (line number,
    "file:line", object) per non-blank line. Each line is decoded on its own, so a bad byte is named by
    line and never turned into U+FFFD; a line that is not UTF-8, not JSON or not an object is described
    in ``problems`` as file:line and skipped. A UTF-8 BOM (Windows editors) before line 1 is not content."""
    for n, line_b in enumerate(raw.split(b"\n"), 1):
        where = f"{path}:{n}"
        try:
            line = (line_b.removeprefix(b"\xef\xbb\xbf") if n == 1 else line_b).decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(f"{where}: not UTF-8 text (byte 0x{line_b[e.start]:02x} at column {e.start + 1})")
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not valid JSON ({e.msg})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{where}: expected {expect}")
            continue
        yield n, where, obj
