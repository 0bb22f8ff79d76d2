"""A GGUF file shipped split across PyPI packages (one part file in each): found, joined, verified, cached.

The part packages are found through their installed file lists (``importlib.metadata``), never imported:
their uploader is not the model's author, and a part package may carry Python code. The parts are joined
in order into the cache (``~/.cache/evalkit/gguf/NAME/FILE``) and the joined file must have the pinned
size and sha256, or it is refused (one line naming the part that differs from its package's RECORD when
one does). A verified file gets a stamp beside it (its size, mtime and hash), so later runs check the
stamp instead of hashing a gigabyte again; the parts are no longer needed once it is there.

The pins are data: a preset's ``gguf_parts`` table (presets.toml, e.g. qwen2.5-coder-1.5b).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from evalkit.errors import WeightsMissing
from evalkit.models.gguf import cache_root
from evalkit.models.weights import WeightsDamaged

CHUNK = 1 << 22


class SplitGGUF(BaseModel):
    """Where a split GGUF's parts are and what the joined file must be."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description="file name of the joined GGUF in the cache")
    distribution: str = Field(description="distribution name of part n, with {n} (1-based), e.g. 'pkg-part{n}'")
    part_file: str = Field(description="the part's path inside its distribution, with {n} (format spec allowed: {n:02d})")
    parts: int = Field(ge=1, description="how many parts, joined in order 1..parts")
    version: str = Field(description="the pinned version of every part distribution")
    size: int = Field(gt=0, description="bytes of the joined file")
    sha256: str = Field(pattern="^[0-9a-f]{64}$", description="sha256 of the joined file (hex)")
    extra: str = Field(description="the evalkit extra that installs the parts: pip install 'evalkit[EXTRA]'")

    def install_hint(self) -> str:
        return (f"pip install 'evalkit[{self.extra}]' (the {self.parts} packages "
                f"{self.distribution.format(n=1)} … {self.distribution.format(n=self.parts)}=={self.version})")


def location(pins: SplitGGUF) -> Path:
    """Where the joined file is (or will be) cached."""
    return cache_root() / "gguf" / Path(pins.file).stem / pins.file


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _stamp(target: Path, sha256: str) -> dict:
    st = target.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}


def _verified(target: Path, pins: SplitGGUF) -> bool:
    try:
        stamp = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
        return stamp == _stamp(target, pins.sha256)
    except (OSError, ValueError):
        return False


def part_paths(pins: SplitGGUF) -> list[tuple[Path, str | None]]:
    """(path, RECORD sha256 in urlsafe base64 or None) of every installed part, in order; refuses a missing
    part, a part of another version, or a distribution without the pinned part file, naming which."""
    found = []
    for n in range(1, pins.parts + 1):
        name = pins.distribution.format(n=n)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise WeightsMissing(f"part {n} of {pins.file} ({name}) is not installed: {pins.install_hint()}") from None
        if dist.version != pins.version:
            raise WeightsMissing(f"{name} is version {dist.version}, {pins.file} needs {pins.version}: {pins.install_hint()}")
        want = pins.part_file.format(n=n)
        entry = next((f for f in dist.files or [] if f.as_posix() == want), None)
        path = Path(dist.locate_file(entry)) if entry is not None else None
        if path is None or not path.is_file():
            raise WeightsMissing(f"{name} {dist.version} has no file {want}: reinstall it ({pins.install_hint()})")
        found.append((path, entry.hash.value if entry.hash and entry.hash.mode == "sha256" else None))
    return found


def joined_gguf(pins: SplitGGUF) -> Path:
    """The joined, verified GGUF file: from the cache when its stamp matches, else joined from the parts."""
    target = location(pins)
    if target.is_file() and _verified(target, pins):
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.is_file() and _verified(target, pins):
            return target
        if target.is_file() and target.stat().st_size == pins.size and _sha256(target) == pins.sha256:
            _write_stamp(target, pins)  # joined before, stamp lost
            return target
        _join(pins, target)
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _write_stamp(target: Path, pins: SplitGGUF) -> None:
    _stamp_path(target).write_text(json.dumps(_stamp(target, pins.sha256)), encoding="utf-8")


def _join(pins: SplitGGUF, target: Path) -> None:
    parts = part_paths(pins)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    whole = hashlib.sha256()
    damaged = []
    try:
        with open(tmp, "wb") as out:
            for n, (path, recorded) in enumerate(parts, 1):
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    while chunk := f.read(CHUNK):
                        out.write(chunk)
                        whole.update(chunk)
                        h.update(chunk)
                if recorded is not None and base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode() != recorded:
                    damaged.append(f"part {n} ({path}) differs from its package's RECORD")
        size = tmp.stat().st_size
        digest = whole.hexdigest()
        if size != pins.size or digest != pins.sha256:
            why = "; ".join(damaged) or (f"the parts join to {size} bytes with sha256 {digest[:12]}…, not the pinned "
                                         f"{pins.size} bytes with sha256 {pins.sha256[:12]}…")
            raise WeightsDamaged(f"refusing {pins.file}: {why}: reinstall the parts ({pins.install_hint()})")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, pins)
