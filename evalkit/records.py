"""The stored records that connect the stages, and atomic file I/O.

suite -> models -> generations.jsonl -> scores.jsonl -> summary.json -> report.md/html.
Every record carries a ``schema`` tag; JSON files are replaced atomically and JSONL lines are
appended whole under a file lock, so a killed process never leaves a record that later stages trust
half-written (a torn last line is skipped and reported).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import RecordError

MANIFEST_SCHEMA = "evalkit.manifest/1"
GENERATION_SCHEMA = "evalkit.generation/1"
SCORE_SCHEMA = "evalkit.score/1"
SUMMARY_SCHEMA = "evalkit.summary/1"
MODEL_CACHE_SCHEMA = "evalkit.model/1"


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys), cut to ``length`` hex digits."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:length]


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class GenerationParams(Record):
    """Sampling parameters. ``batch_size`` is a speed knob and is left out of the cache key."""

    max_new_tokens: int = Field(300, ge=1)
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0)
    do_sample: bool = True
    seed: int = 1234
    batch_size: int = Field(8, ge=1)

    def cache_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"batch_size"})


class Generation(Record):
    """What a backend returns for one request."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None  # wall time of the call that produced it (a whole batch)
    ttft_s: float | None = None  # time to first generated token of that call
    error: str | None = None  # set when this story failed (server down, ...): text is then ""
    extra: dict[str, Any] = Field(default_factory=dict)


class ModelInfo(Record):
    """How a model describes itself."""

    name: str
    backend: str
    source: str = ""
    parameters: int | None = None
    dtype: str | None = None
    quantization: str | None = None
    device: str | None = None
    adapter: str | None = None
    disk_bytes: int | None = None
    chat_template: bool = False
    extra: dict[str, Any] = Field(default_factory=dict)


class MemoryReading(Record):
    """Peak memory while one model loaded and generated.

    kind: ``cuda`` (peak allocated/reserved), ``rss`` (process peak resident set, reset before the
    model where the OS allows), or ``not measurable`` (remote models)."""

    kind: Literal["cuda", "rss", "not measurable"]
    peak_bytes: int | None = None
    reserved_bytes: int | None = None
    baseline_bytes: int | None = None
    note: str | None = None


class GenerationRecord(Record):
    """One line of generations.jsonl (and of the generation cache)."""

    schema_: str = Field(GENERATION_SCHEMA, alias="schema")
    key: str
    model: str  # the label used in this run
    model_key: str
    item_id: str
    seed: int
    params_key: str
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    batch_size: int | None = None
    error: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    created: str = Field(default_factory=utcnow)

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


class ScoreRecord(Record):
    """One line of scores.jsonl: every metric of one story. ``None`` means not scorable."""

    schema_: str = Field(SCORE_SCHEMA, alias="schema")
    model: str
    item_id: str
    gen_key: str | None = None
    scores: dict[str, float | None]
    notes: dict[str, str] = Field(default_factory=dict)

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


class ModelRun(Record):
    """One candidate inside a run manifest."""

    label: str
    spec: dict[str, Any]
    model_key: str
    info: ModelInfo | None = None
    load_s: float | None = None
    generate_s: float | None = None  # wall time spent generating the stories of this run
    memory: MemoryReading | None = None
    n_generated: int = 0
    n_cached: int = 0
    n_failed: int = 0
    failed_items: list[str] = Field(default_factory=list)
    oom_retries: int = 0
    training: dict[str, Any] | None = None  # the training record when evalkit fine-tuned it


class SuiteRef(Record):
    name: str
    path: str
    hash: str
    split: str
    item_ids: list[str]


class Manifest(Record):
    schema_: str = Field(MANIFEST_SCHEMA, alias="schema")
    run_id: str
    created: str = Field(default_factory=utcnow)
    finished: str | None = None
    status: Literal["running", "complete", "interrupted", "failed"] = "running"
    evalkit_version: str
    git_sha: str | None = None
    python: str
    libraries: dict[str, str] = Field(default_factory=dict)
    hardware: dict[str, Any] = Field(default_factory=dict)
    suite: SuiteRef
    params: GenerationParams
    models: list[ModelRun] = Field(default_factory=list)
    command: list[str] = Field(default_factory=list)
    pid: int | None = None
    host: str | None = None

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


class CachedModel(Record):
    """What a finished generation pass learned about a model, so a cached rerun needs no load."""

    schema_: str = Field(MODEL_CACHE_SCHEMA, alias="schema")
    model_key: str
    info: ModelInfo | None = None
    load_s: float | None = None
    memory: MemoryReading | None = None
    seconds_per_story: float | None = None

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


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
        from evalkit.errors import EvalkitError

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
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for r in records:
        data = r.model_dump(mode="json", by_alias=True) if isinstance(r, BaseModel) else r
        lines.append(json.dumps(data, ensure_ascii=False) + "\n")
    if not lines:
        return
    try:
        with FileLock(str(path) + ".lock"):
            with open(path, "a", encoding="utf-8") as f:
                # A torn last line (killed writer) would glue onto ours: start on a fresh line.
                if f.tell() > 0 and not _ends_with_newline(path):
                    f.write("\n")
                for line in lines:
                    f.write(line)
                f.flush()
                os.fsync(f.fileno())
    except OSError as e:
        raise named(e, path) from None


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


def load_manifest(run_dir: str | os.PathLike[str]) -> Manifest:
    path = Path(run_dir) / "manifest.json"
    data = read_json(path)
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        raise RecordError(f"{path}: not an evalkit manifest ({e.error_count()} problem(s))") from None
