"""Entry-point plugins: one loader for model backends (``evalkit.models``) and scorers (``evalkit.scorers``).

A third-party package registers a backend or scorer under one of these groups in its
pyproject.toml; nothing is imported until a plugin is loaded by name."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from evalkit.errors import EvalkitError

MODELS_GROUP = "evalkit.models"
SCORERS_GROUP = "evalkit.scorers"


@lru_cache(maxsize=None)
def plugin_entry_points(group: str) -> dict[str, EntryPoint]:
    """Installed entry points of ``group`` by name (read once per process)."""
    return {ep.name: ep for ep in entry_points(group=group)}


def plugin_names(group: str) -> list[str]:
    return sorted(plugin_entry_points(group))


def load_plugin(group: str, name: str, base: type, unknown: str,
                error: type[EvalkitError] = EvalkitError) -> Any:
    """The class registered as ``name`` in ``group``, checked to subclass ``base``.

    ``unknown`` is the ``error`` line for a name that is not installed ({name} and {installed} are
    filled in)."""
    eps = plugin_entry_points(group)
    if name not in eps:
        raise error(unknown.format(name=name, installed=", ".join(sorted(eps)) or "none"))
    try:
        obj = eps[name].load()
    except ImportError as e:
        raise EvalkitError(f"plugin {name!r} ({eps[name].value}) does not import: {e}") from None
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise EvalkitError(f"plugin {name!r} ({eps[name].value}) is not an evalkit {base.__name__} subclass")
    return obj

