"""The local Hugging Face cache, read without reaching for the hub."""

from __future__ import annotations

from pathlib import Path


def hub_snapshot(repo_id: str) -> str | None:
    """The cached snapshot folder of a hub model, or None when it is not on this machine."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        hit = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # malformed repo ids raise validation errors
        return None
    return str(Path(hit).parent) if isinstance(hit, str) else None
