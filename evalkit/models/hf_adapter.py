"""A PEFT adapter on a transformers base: attach it for inference, after checking that the base it was
trained for (its ``base_model_name_or_path``: a folder, a .gguf file or a preset) has the architecture of
the base we load."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.models.base import ModelSpec
from evalkit.models.bnb import import_bitsandbytes
from evalkit.models.weights import WeightsDamaged, explain_load_error, first_line, read_json_object

Resolve = Callable[[ModelSpec], dict[str, Any]]  # HFModel(spec).resolved(): passed in, models/hf imports this module


def attach_adapter(model: Any, adapter: str, base_folder: str, resolve: Resolve) -> Any:
    """``model`` with the PEFT adapter at ``adapter`` attached (inference only), after checking the adapter
    was trained for this base's architecture; ``resolve`` gives the resolved options of an hf spec (a preset
    the adapter names)."""
    import_bitsandbytes()  # peft imports it: first without the hub kernel lookup
    from peft import PeftModel

    cfg = read_json_object(Path(adapter) / "adapter_config.json")
    declared = cfg.get("base_model_name_or_path")
    mismatch = config_mismatch(declared, base_folder, resolve)
    if mismatch:
        raise EvalkitError(f"adapter {adapter} was trained for {declared}, not {base_folder}: {mismatch}")
    try:
        return PeftModel.from_pretrained(model, adapter, is_trainable=False)
    except Exception as e:
        why = explain_load_error(e, adapter)
        if why:
            raise WeightsDamaged(why) from None
        if not isinstance(e, (RuntimeError, ValueError, KeyError)):
            raise
        raise EvalkitError(f"adapter {adapter} does not fit base {base_folder}: {first_line(e)}") from None


def declared_folder(declared: str | None, resolve: Resolve) -> str | None:
    """The local folder of the base an adapter names: a folder as it is; a .gguf file, or a preset (what
    a shipped adapter names: no machine's path), as the transformers folder its weights load from."""
    if not declared:
        return None
    gguf = declared if declared.lower().endswith(".gguf") and Path(declared).is_file() else None
    if gguf is None and not Path(declared).exists():
        from evalkit.models.registry import load_presets, spec_from_preset

        presets = load_presets()
        if declared not in presets:
            return declared
        spec = spec_from_preset(declared, presets[declared])
        if spec.backend != "hf":
            return None
        try:
            r = resolve(ModelSpec(spec.label, "hf", {k: v for k, v in spec.options.items()
                                                      if k not in ("adapter", "finetuned", "requires_adapter")}))
        except Exception:  # its weights are not installed here: nothing to compare with
            return None
        gguf = r["gguf"]
        if gguf is None:
            return r["source"]
    if gguf is None:
        return declared
    from evalkit.models.gguf import dequantized_location

    return str(dequantized_location(gguf))


def config_mismatch(declared: str | None, base_folder: str, resolve: Resolve) -> str | None:
    """Compare the architecture the adapter was trained on with the base we load, when both are local."""
    declared = declared_folder(declared, resolve)
    if not declared or not (Path(declared) / "config.json").is_file() or not (Path(base_folder) / "config.json").is_file():
        return None
    if Path(declared).resolve() == Path(base_folder).resolve():
        return None
    a = json.loads((Path(declared) / "config.json").read_text())
    b = json.loads((Path(base_folder) / "config.json").read_text())
    for key in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size", "n_embd", "n_layer"):
        if key in a and key in b and a[key] != b[key]:
            return f"{key} {a[key]} != {b[key]}"
    return None
