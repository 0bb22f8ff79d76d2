"""The base model a fine-tune starts from: a preset (its released weights, never an earlier fine-tune
or adapter), a local folder, a .gguf file (trained from its dequantized transformers copy) or a hub id
already in the local cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, WeightsMissing
from evalkit.models.base import ModelSpec

# options that point at trained artefacts or eval-time loading: a fine-tune starts from the base
_EVAL_ONLY = ("finetuned", "adapter", "requires_adapter", "quantization", "finetune_recipe")


@dataclass(frozen=True)
class BaseModelRef:
    label: str
    spec: ModelSpec  # the model as `compare` names it (options unstripped)
    source: str  # hub id, folder or .gguf file
    folder: Path  # a transformers folder to load
    gguf: str | None
    fingerprint: str

    @property
    def adapter_base(self) -> str:
        """What a saved adapter names as its base: something `compare` resolves. A preset whose weights
        come from an installed package (smollm2-135m) is named by the preset, which every install
        resolves, not by a path into this machine's site-packages (the adapter may be shipped)."""
        if self.spec.options.get("gguf_package") and self.spec.label == self.label:
            from evalkit.models.registry import load_presets

            if self.label in load_presets():
                return self.label
        if self.gguf:
            return str(Path(self.gguf).resolve())
        p = Path(self.source).expanduser()
        return str(p.resolve()) if p.exists() else self.source


def resolve_base(arg: str, models_file: str | Path | None = None) -> BaseModelRef:
    from evalkit.models.hf import HFModel, hub_snapshot
    from evalkit.models.registry import resolve_model

    spec = resolve_model(arg, models_file)
    if spec.backend != "hf":
        raise EvalkitError(f"{spec.label!r} uses backend {spec.backend!r}: evalkit finetune trains transformers "
                           "models (backend hf: a preset, a local folder, a .gguf file or a cached hub id)")
    path = Path(arg).expanduser()
    if path.is_dir() and (path / "adapter_config.json").is_file():
        raise EvalkitError(f"{arg} is a PEFT adapter: fine-tune its base model ({spec.options.get('source')}) instead")
    options: dict[str, Any] = {k: v for k, v in spec.options.items() if k not in _EVAL_ONLY}
    base = HFModel(ModelSpec(spec.label, "hf", options, spec.description))
    problem = base.availability()
    if problem:
        raise WeightsMissing(f"cannot fine-tune {spec.label!r}: {problem}. The Hugging Face hub is not reachable "
                             "from here: download the base on a connected machine (huggingface-cli download ID), "
                             "copy ~/.cache/huggingface here, or pass a local model folder or .gguf file")
    r = base.resolved()
    if r["gguf"]:
        from evalkit.models.gguf import dequantized_folder

        folder = dequantized_folder(r["gguf"])
    elif Path(r["source"]).expanduser().exists():
        folder = Path(r["source"]).expanduser()
    else:
        snap = hub_snapshot(r["source"])
        if snap is None:  # availability() said it was cached; it vanished since
            raise WeightsMissing(f"weights of {r['source']} are not in the local Hugging Face cache")
        folder = Path(snap)
    return BaseModelRef(label=spec.label, spec=spec, source=r["source"], folder=folder, gguf=r["gguf"],
                        fingerprint=base.fingerprint())
