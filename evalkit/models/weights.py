"""One guard for weight files before any loader sees them: a damaged or mislabelled file gets one line
naming the file and what is wrong, not a traceback from deep inside a loader.

The checks read headers only (a few bytes to a few MB), so they are cheap enough for ``availability``;
``explain_load_error`` turns what torch or safetensors raise while loading into the same kind of line.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.models.hub import hub_snapshot

GGUF_MAGIC = b"GGUF"
GGUF_HEADER = 24  # magic, uint32 version, uint64 tensor count, uint64 metadata count
MAX_SAFETENSORS_HEADER = 100_000_000  # the format's own limit


class WeightsDamaged(EvalkitError):
    """A weight or config file that is not what its name says, or is cut short."""


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object (config.json, adapter_config.json)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise WeightsDamaged(f"{path}: not a text file (expected a JSON object)") from None
    except json.JSONDecodeError as e:
        raise WeightsDamaged(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except OSError as e:
        raise WeightsDamaged(f"{path}: cannot be read ({e.strerror or e})") from None
    if not isinstance(data, dict):
        raise WeightsDamaged(f"{path}: must hold a JSON object, not a {type(data).__name__}")
    return data


def check_gguf(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(GGUF_HEADER)
    except OSError as e:
        raise WeightsDamaged(f"{path}: cannot be read ({e.strerror or e})") from None
    if head[:4] != GGUF_MAGIC:
        raise WeightsDamaged(f"{path}: not a GGUF file (it does not start with the GGUF magic bytes; "
                             f"it starts with {head[:4]!r})")
    if len(head) < GGUF_HEADER:  # magic, version, tensor count, metadata count: a cut download
        raise WeightsDamaged(f"{path}: truncated GGUF file ({len(head)} bytes, the header alone is "
                             f"{GGUF_HEADER}): download or copy it again")
    (version,) = struct.unpack_from("<I", head, 4)
    if version not in (1, 2, 3):
        raise WeightsDamaged(f"{path}: damaged GGUF file (format version {version}; known: 1 to 3)")


def check_safetensors(path: Path) -> None:
    """The header parses and the file is as long as the header says (a cut download is caught here)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw_len = f.read(8)
            if len(raw_len) < 8:
                raise WeightsDamaged(f"{path}: truncated safetensors file ({size} bytes, no header)")
            (n,) = struct.unpack("<Q", raw_len)
            if n > MAX_SAFETENSORS_HEADER or 8 + n > size:
                raise WeightsDamaged(f"{path}: truncated or not a safetensors file (header of {n} bytes "
                                     f"in a file of {size} bytes)")
            header = json.loads(f.read(n))
    except OSError as e:
        raise WeightsDamaged(f"{path}: cannot be read ({e.strerror or e})") from None
    except (ValueError, UnicodeDecodeError):
        raise WeightsDamaged(f"{path}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise WeightsDamaged(f"{path}: not a safetensors file (its header is not a JSON object)")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise WeightsDamaged(f"{path}: damaged safetensors header (tensor {name!r} has no data_offsets)")
        end = max(end, offsets[1])
    if 8 + n + end > size:
        raise WeightsDamaged(f"{path}: truncated safetensors file: {size} bytes, the header promises "
                             f"{8 + n + end} (download or copy it again)")


def check_weights(path: str | Path) -> None:
    """Check a .gguf file, or a model/adapter folder's config and safetensors files."""
    p = Path(path).expanduser()
    if p.is_file():
        if p.suffix.lower() == ".gguf":
            check_gguf(p)
        elif p.suffix.lower() == ".safetensors":
            check_safetensors(p)
        return
    if not p.is_dir():
        return
    for name in ("config.json", "adapter_config.json"):
        if (p / name).is_file():
            read_json_object(p / name)
    for f in sorted(p.glob("*.safetensors")):
        check_safetensors(f)


def explain_load_error(e: BaseException, folder: str | Path) -> str | None:
    """One line for what torch/safetensors raise on a bad weight file; None when it is something else."""
    import pickle

    p = Path(folder).expanduser()
    if p.suffix.lower() == ".gguf" and isinstance(e, (struct.error, EOFError, UnicodeDecodeError, IndexError)):
        # the header passed check_gguf, but the metadata or tensors after it are cut short or garbled
        detail = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        return f"{p}: damaged or truncated GGUF file ({detail}): download or copy it again"
    if isinstance(e, pickle.UnpicklingError):
        pickles = sorted(p.glob("*.bin")) + sorted(p.glob("*.pt")) if p.is_dir() else [p]
        where = ", ".join(str(f) for f in pickles) or str(p)
        # never suggest weights_only=False: that runs whatever code the pickle holds
        return (f"{where}: a pickle checkpoint that torch refuses to load safely (it holds more than "
                "tensors); evalkit does not run pickled code: convert the weights to safetensors on a "
                "machine you trust, or use a safetensors copy")
    if "safetensor" in type(e).__name__.lower() or "safetensor" in type(e).__module__.lower():
        return f"{p}: damaged safetensors weights ({str(e).splitlines()[0][:200] if str(e) else type(e).__name__})"
    return None


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


def disk_bytes(paths: list[str | None]) -> int | None:
    total, seen = 0, False
    for p in paths:
        if not p:
            continue
        path = Path(os.path.expanduser(p))
        if path.is_file():
            total += path.stat().st_size
            seen = True
        elif path.is_dir():
            for f in path.rglob("*"):
                if f.is_file() and f.suffix in WEIGHT_SUFFIXES:
                    total += f.stat().st_size
                    seen = True
        else:
            snap = hub_snapshot(p)
            if snap:
                for f in Path(snap).iterdir():
                    if f.suffix in WEIGHT_SUFFIXES:
                        total += f.resolve().stat().st_size
                        seen = True
    return total if seen else None


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__
