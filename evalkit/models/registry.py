"""Backends by entry point, presets from data files, and resolution of a model argument to a ModelSpec."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, ModelNotFound
from evalkit.models.base import Model, ModelSpec
from evalkit.plugins import MODELS_GROUP, load_plugin, plugin_entry_points, plugin_names

PRESETS_FILE = Path(__file__).with_name("presets.toml")
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the installed evalkit package
PACKAGE_PREFIX = "{package}/"
USER_MODELS_FILE = "evalkit.toml"
ENTRY_POINT_GROUP = MODELS_GROUP


def available_backends() -> list[str]:
    return plugin_names(MODELS_GROUP)


def load_backend(name: str) -> type[Model]:
    return load_plugin(MODELS_GROUP, name, Model,
                       "unknown backend {name!r}: installed backends are {installed}"
                       " (a plugin registers one under the entry-point group 'evalkit.models')", ModelNotFound)


def load_presets(models_file: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Built-in presets, then evalkit.toml in the working directory, then ``models_file``: later wins."""
    presets = {name: dict(v) for name, v in _read_toml(PRESETS_FILE).items()}
    user_files = [Path(USER_MODELS_FILE)] if Path(USER_MODELS_FILE).is_file() else []
    if models_file is not None:
        if not Path(models_file).is_file():
            raise EvalkitError(f"models file {models_file} does not exist")
        user_files.append(Path(models_file))
    for f in user_files:
        table = _read_toml(f).get("models", {})
        if not isinstance(table, dict):
            raise EvalkitError(f"{f}: [models] must hold one table per model, e.g. [models.my-model]")
        for name, opts in table.items():
            if not isinstance(opts, dict) or "backend" not in opts and name not in presets:
                raise EvalkitError(f"{f}: [models.{name}] needs a 'backend' (for example backend = \"hf\")")
            presets[name] = {**presets.get(name, {}), **opts}
    return presets


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise EvalkitError(f"{path}: {e}") from None


def package_path(value: Any) -> Any:
    """A preset value ``{package}/REL`` names a file shipped inside the evalkit package (package data,
    e.g. an adapter): it becomes an absolute path. Other values are returned as they are (relative
    paths stay relative to the working directory)."""
    if isinstance(value, str) and value.startswith(PACKAGE_PREFIX):
        return str(PACKAGE_DIR / value.removeprefix(PACKAGE_PREFIX))
    return value


def is_package_path(path: str | Path) -> bool:
    """Whether a (resolved) path lies inside the evalkit package."""
    return Path(path).resolve().is_relative_to(PACKAGE_DIR)


def spec_from_preset(name: str, preset: dict[str, Any]) -> ModelSpec:
    # the one place a preset's {package}/ paths are resolved, for every backend
    opts = {k: package_path(v) for k, v in preset.items() if k not in ("backend", "description")}
    return ModelSpec(label=name, backend=preset.get("backend", "hf"), options=opts,
                     description=preset.get("description", ""))


def resolve_model(arg: str, models_file: str | Path | None = None,
                  overrides: dict[str, Any] | None = None) -> ModelSpec:
    """Turn a command-line model argument into a spec.

    Accepted: a preset name; ``BACKEND:TARGET`` (e.g. ``hf:gpt2``); a local model folder; a folder
    holding a PEFT adapter (its base comes from adapter_config.json); a .gguf file; a hub id
    ``org/name``."""
    presets = load_presets(models_file)
    spec = _resolve(arg, presets)
    if overrides:
        spec = ModelSpec(spec.label, spec.backend, {**spec.options, **{k: package_path(v) for k, v in overrides.items()}},
                         spec.description)
    return spec


def _resolve(arg: str, presets: dict[str, dict[str, Any]]) -> ModelSpec:
    if arg in presets:
        return spec_from_preset(arg, presets[arg])
    backend, sep, target = arg.partition(":")
    if sep and backend in plugin_entry_points(MODELS_GROUP) and target:
        return ModelSpec(label=arg, backend=backend, options={"source": target})
    path = Path(arg).expanduser()
    if path.exists():
        return _spec_from_path(arg, path)
    if looks_like_path(arg):
        raise ModelNotFound(f"{arg}: no such file or folder")
    if "/" in arg and arg.count("/") == 1 and all(arg.split("/")):
        return ModelSpec(label=arg, backend="hf", options={"source": arg})
    close = difflib.get_close_matches(arg, list(presets), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ModelNotFound(
        f"unknown model {arg!r}: {hint}presets are {', '.join(sorted(presets))}; "
        "or give a local folder, a .gguf file, a hub id (org/name) or BACKEND:TARGET (e.g. hf:gpt2)"
    )


def looks_like_path(arg: str) -> bool:
    return arg.startswith((".", "/", "~")) or arg.endswith((".gguf", ".safetensors", ".bin")) or "\\" in arg


def _spec_from_path(arg: str, path: Path) -> ModelSpec:
    label = path.name.removesuffix(".gguf") or arg
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelNotFound(f"{arg}: a model file must be a .gguf file (or give the model's folder)")
        return ModelSpec(label=label, backend="hf", options={"source": str(path)})
    if (path / "adapter_config.json").is_file():
        from evalkit.models.weights import read_json_object

        base = read_json_object(path / "adapter_config.json").get("base_model_name_or_path")
        if not isinstance(base, str) or not base:
            raise ModelNotFound(f"{arg}: adapter_config.json does not name its base model")
        presets = load_presets()
        if base in presets and not Path(base).exists():  # a shipped adapter names its base by preset
            spec = spec_from_preset(base, presets[base])
            options = {k: v for k, v in spec.options.items() if k not in ("adapter", "finetuned")}
            return ModelSpec(label=label, backend=spec.backend, options={**options, "adapter": str(path)})
        return ModelSpec(label=label, backend="hf", options={"source": base, "adapter": str(path)})
    if (path / "config.json").is_file():
        return ModelSpec(label=label, backend="hf", options={"source": str(path)})
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return ModelSpec(label=label, backend="hf", options={"source": str(ggufs[0])})
    raise ModelNotFound(
        f"{arg}: not a model folder (no config.json, adapter_config.json or single .gguf file inside)"
    )
