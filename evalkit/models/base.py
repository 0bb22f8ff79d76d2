"""Model: the one interface every backend implements (hf, openai, llamacpp, third-party plugins)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from evalkit.records import Generation, GenerationParams, ModelInfo, stable_hash
from evalkit.suites import Character, Suite, SuiteItem


@dataclass(frozen=True)
class Request:
    """One story to write: the suite item's fields plus the prompt rendered both ways.

    A backend for base models uses ``plain_prompt`` (the seed's [GENRE] -> [STORY] format); a
    backend for instruct models sends ``system`` and ``user`` through its chat template."""

    item_id: str
    genre: str
    characters: tuple[Character, ...]
    prompt: str
    plain_prompt: str
    system: str
    user: str

    @classmethod
    def from_item(cls, suite: Suite, item: SuiteItem) -> Request:
        return cls(
            item_id=item.id,
            genre=item.genre,
            characters=item.characters,
            prompt=item.prompt,
            plain_prompt=suite.render(item, "base"),
            system=suite.render(item, "system"),
            user=suite.render(item, "chat"),
        )


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model argument: the label shown in tables, the backend name and its options."""

    label: str
    backend: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "backend": self.backend, "options": dict(self.options)}


class Model(ABC):
    """A candidate model. Lifecycle: ``Model(spec)`` (cheap) -> ``load()`` -> ``generate()``* -> ``close()``."""

    #: set by backends whose peak memory cannot be measured from this process (remote servers)
    remote: ClassVar[bool] = False
    #: the backend's options as a pydantic model (unknown keys forbidden); None: options not checked
    options_model: ClassVar[type[Any] | None] = None

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    # -- identity without loading ------------------------------------------------------------------
    def fingerprint(self) -> str:
        """A cheap identity of the weights and options, used as the generation cache key.

        The default hashes the options plus size and mtime of any local files they name, so a
        retrained checkpoint in the same folder gets a new key."""
        return stable_hash({"backend": self.spec.backend, "options": self.spec.options,
                            "files": files_fingerprint(self.spec.options)})

    def availability(self) -> str | None:
        """``None`` when the model can run here, else one line saying what is missing."""
        return None

    # -- work ----------------------------------------------------------------------------------------
    def load(self) -> None:
        """Load weights (may be slow). Raise EvalkitError for user-fixable problems."""

    @abstractmethod
    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Generation]:
        """Write one story per request, in the order given."""

    def chunk_size(self, params: GenerationParams) -> int:
        """How many requests the runner hands to one ``generate`` call (results are stored per call)."""
        return params.batch_size

    @abstractmethod
    def describe(self) -> ModelInfo:
        """Parameter count, dtype, quantization, device, adapter, bytes on disk."""

    def close(self) -> None:
        """Free memory."""

    def training_record(self) -> Any:
        """The training record evalkit wrote beside these weights (``evalkit finetune``), if any: a
        records.ModelTraining (a plain dict for a record of another version)."""
        return find_training_record(v for v in self.spec.options.values() if isinstance(v, str))


def options_problem(label: str, backend: str, options_model: Any, options: dict[str, Any]) -> str | None:
    """None when ``options`` fit the backend's pydantic options model, else one line naming the first
    bad option (and the valid keys when the key is unknown)."""
    from pydantic import ValidationError

    try:
        options_model.model_validate(options)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(map(str, err["loc"])) or "options"
        line = f"model {label!r} (backend {backend}): option {where}: {err['msg']}"
        if err["type"] == "extra_forbidden":
            line += f" (valid options: {', '.join(options_model.model_fields)})"
        return line
    return None


TRAINING_RECORD = "training_record.json"


def find_training_record(paths: Any) -> Any:
    import json

    for p in paths:
        if not p or len(p) > 4096:
            continue
        f = Path(os.path.expanduser(p)) / TRAINING_RECORD
        if f.is_file():
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                return training_with_path(data, str(f))
    return None


def training_with_path(data: dict[str, Any], path: str) -> Any:
    """The typed record (records.ModelTraining) of a training_record.json; one of another version, or a
    foreign file of that name, stays a plain dict as before (its wall_time_s still feeds Training Time)."""
    from pydantic import ValidationError

    from evalkit.records import ModelTraining

    try:
        return ModelTraining.model_validate(data | {"path": path})
    except ValidationError:
        return data | {"path": path}


def files_fingerprint(options: dict[str, Any]) -> list[list[Any]]:
    """(name, size, mtime) of every local file or folder named by an option value."""
    out: list[list[Any]] = []
    for key in sorted(options):
        value = options[key]
        if not isinstance(value, str) or not value or len(value) > 4096:
            continue
        p = Path(os.path.expanduser(value))
        try:
            if p.is_file():
                st = p.stat()
                out.append([key, p.name, st.st_size, st.st_mtime_ns])
            elif p.is_dir():
                for child in sorted(p.iterdir()):
                    if child.is_file():
                        st = child.stat()
                        out.append([key, child.name, st.st_size, st.st_mtime_ns])
        except OSError:
            continue
    return out
