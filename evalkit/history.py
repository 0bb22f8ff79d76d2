"""Run history: the results folder is the store. Lists run folders and says which ones finished.

A run is trusted only when its manifest says ``complete`` and its JSON files parse. A manifest that
says ``running`` while its process is gone (same host, pid dead or reused) is an unfinished run, as
are ``interrupted`` and ``failed`` runs; a folder with run files but no readable manifest is damaged.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import psutil

from evalkit.errors import EvalkitError, RecordError
from evalkit.records import Manifest, load_manifest, random_weights_run, read_json

State = Literal["complete", "running", "unfinished", "damaged"]

# Files only a run folder holds: a folder with none of them is not a run (baselines/, finetuned/...).
RUN_FILES = ("manifest.json", "generations.jsonl", "scores.jsonl", "summary.json", "rating.json")
SKIP_DIRS = {"baselines", "finetuned", "adapters", "cache"}


@dataclass
class RunEntry:
    path: Path
    run_id: str
    state: State
    status: str | None = None  # what the manifest says
    suite: str | None = None
    split: str | None = None
    models: list[str] = field(default_factory=list)
    created: str | None = None
    finished: str | None = None
    git_sha: str | None = None
    host: str | None = None
    scored: bool = False  # summary.json present and readable
    rated: bool = False  # rating.json present and readable
    problems: list[str] = field(default_factory=list)
    manifest: Manifest | None = None

    @property
    def trusted(self) -> bool:
        return self.state == "complete"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "path": str(self.path), "state": self.state, "status": self.status,
            "suite": self.suite, "split": self.split, "models": self.models, "created": self.created,
            "finished": self.finished, "git_sha": self.git_sha, "scored": self.scored, "rated": self.rated,
            "problems": self.problems,
        }


def _parse_time(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def process_alive(pid: int | None, started: str | None) -> bool:
    """Is ``pid`` still the process that started the run? A pid created after the run began was reused."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        begun = _parse_time(started)
        # manifest stamps have one-second resolution: allow a little slack
        return begun is None or proc.create_time() <= begun + 2.0
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return False


def inspect_run(path: Path) -> RunEntry:
    """Describe one run folder without trusting anything it has not parsed."""
    entry = RunEntry(path=path, run_id=path.name, state="damaged")
    try:
        m = load_manifest(path)
    except RecordError as e:
        entry.problems.append(str(e).replace(str(path) + "/", ""))
        return entry
    entry.manifest = m
    entry.run_id = m.run_id
    entry.status, entry.suite, entry.split = m.status, m.suite.name, m.suite.split
    entry.models = [r.label for r in m.models]
    entry.created, entry.finished, entry.git_sha, entry.host = m.created, m.finished, m.git_sha, m.host
    if m.run_id != path.name:
        entry.problems.append(f"manifest run_id {m.run_id!r} differs from the folder name")
    if m.status == "complete":
        entry.state = "complete"
    elif m.status == "running":
        if m.host and m.host != socket.gethostname():
            entry.state = "running"
            entry.problems.append(f"running on host {m.host}: cannot check its process from here")
        elif process_alive(m.pid, m.created):
            entry.state = "running"
        else:
            entry.state = "unfinished"
            entry.problems.append(f"manifest says running but process {m.pid} is gone")
    else:
        entry.state = "unfinished"
        entry.problems.append(f"run {m.status}")
    for name, attr in (("summary.json", "scored"), ("rating.json", "rated")):
        if not (path / name).exists():
            continue
        try:
            read_json(path / name)
            setattr(entry, attr, True)
        except RecordError as e:
            entry.problems.append(str(e).replace(str(path) + "/", ""))
            entry.state = "damaged"
    if entry.state == "complete" and not entry.scored and not random_weights_run(m):
        # generation finished; scoring runs next in the same process, unless it was killed
        if (not m.host or m.host == socket.gethostname()) and process_alive(m.pid, m.created):
            entry.state = "running"
            entry.problems.append("scoring")
        else:
            entry.state = "unfinished"
            entry.problems.append("generated but never scored (no summary.json)")
    return entry


def is_run_dir(path: Path) -> bool:
    """Holds a run file, or the temp file of a manifest whose writer was killed mid-write."""
    if not path.is_dir():
        return False
    return any((path / f).exists() for f in RUN_FILES) or any(p.name.startswith(".manifest.json.") for p in path.iterdir())


def scan_runs(results_dir: str | Path) -> list[RunEntry]:
    """Every run folder directly under ``results_dir``, oldest first (created, then run id)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise EvalkitError(f"results folder {str(root)!r} does not exist")
    entries = []
    for child in sorted(root.iterdir()):
        if child.name.startswith((".", "_")) or child.name in SKIP_DIRS or not child.is_dir():
            continue
        if not is_run_dir(child):
            continue
        entries.append(inspect_run(child))
    entries.sort(key=lambda e: (e.created or _stamp_from_id(e.run_id), e.run_id))
    return entries


def _stamp_from_id(run_id: str) -> str:
    """Run ids start with their UTC creation time (YYYYMMDD-HHMMSS-...): order damaged runs by it."""
    m = re.match(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})", run_id)
    return "{}-{}-{}T{}:{}:{}Z".format(*m.groups()) if m else ""
