"""Recipes as data: evalkit/finetune/recipes/<name>.toml (or any TOML file), validated strictly so a
misspelt key is named instead of silently ignored, with command-line overrides applied before
validation (an unknown override key is named the same way)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalkit.errors import EvalkitError

RECIPES_DIR = Path(__file__).parent / "finetune" / "recipes"

# The seed's pairing of candidates and recipes; every other model defaults to LoRA (see default_recipe).
PRESET_RECIPES = {"distilgpt2": "full", "distilgpt2-base": "full", "llama3-qlora": "qlora"}


class LoraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    bias: Literal["none", "all", "lora_only"] = "none"


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    method: Literal["full", "lora"]
    quantization: Literal["none", "nf4"] = "none"
    compute_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    double_quant: bool = True
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    mixed_precision: Literal["auto", "bf16", "fp16", "no"] = "auto"
    format: Literal["plain", "chat", "auto"] = "auto"
    max_length: int = Field(512, ge=8)
    epochs: float = Field(3, gt=0)
    max_steps: int = Field(0, ge=0)
    learning_rate: float = Field(5e-5, gt=0)
    lr_scheduler: str = "linear"
    warmup: float = Field(0.0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(4, ge=1)
    effective_batch_size: int | None = Field(None, ge=1)
    optimizer: str = "adamw_torch"
    max_grad_norm: float = Field(1.0, ge=0)
    gradient_checkpointing: bool = False
    eval_every: int | Literal["epoch"] = "epoch"
    keep_best: bool = True
    seed: int = 42
    lora: LoraSettings | None = None

    @field_validator("eval_every")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be 'epoch' or a number of steps >= 1")
        return v

    def model_post_init(self, _: Any) -> None:
        if self.method == "lora" and self.lora is None:
            self.lora = LoraSettings()
        if self.method == "full" and self.quantization != "none":
            raise EvalkitError(f"recipe {self.name!r}: a 4-bit base cannot be fully fine-tuned; use method = \"lora\"")

    @property
    def gradient_accumulation_steps(self) -> int:
        eff = self.effective_batch_size or self.batch_size
        return max(1, -(-eff // self.batch_size))

    @property
    def saves_adapter(self) -> bool:
        return self.method == "lora"


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def recipe_path(name_or_path: str) -> Path:
    p = Path(name_or_path).expanduser()
    if p.suffix == ".toml" or p.is_file():
        if not p.is_file():
            raise EvalkitError(f"recipe file {p} " + ("is a folder" if p.is_dir() else "does not exist"))
        return p
    builtin = RECIPES_DIR / f"{name_or_path}.toml"
    if builtin.is_file():
        return builtin
    raise EvalkitError(f"unknown recipe {name_or_path!r}: use one of {', '.join(recipe_names())} or a .toml file")


def default_recipe(label: str, options: dict[str, Any]) -> str:
    """distilgpt2 -> full, llama3-qlora (and any 4-bit preset) -> qlora, everything else -> lora:
    an adapter is cheap to train and store and leaves the base model untouched."""
    if isinstance(options.get("finetune_recipe"), str):
        return options["finetune_recipe"]
    if label in PRESET_RECIPES:
        return PRESET_RECIPES[label]
    return "qlora" if options.get("quantization") == "nf4" else "lora"


def load_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> tuple[Recipe, Path]:
    path = recipe_path(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise EvalkitError(f"recipe {path}: {e}") from None
    return validate_recipe(raw, overrides, where=str(path)), path


def validate_recipe(raw: dict[str, Any], overrides: dict[str, Any] | None = None, where: str = "recipe") -> Recipe:
    data = copy.deepcopy(raw)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        set_keys = set(overrides or {})
        from_sets = [err for err in errors if _loc(err) in set_keys]
        if from_sets:  # the typo is on the command line, not in the recipe file
            name = raw.get("name") if isinstance(raw.get("name"), str) else where
            given = ", ".join(f"--set {_loc(err)}" for err in from_sets)
            raise EvalkitError(f"{given}: recipe {name!r} in use ({where}): {describe_errors(from_sets)}") from None
        raise EvalkitError(f"{where}: {describe_errors(errors)}") from None


def _loc(err: Any) -> str:
    return ".".join(str(p) for p in err["loc"])


def describe_errors(errors: Any) -> str:
    unknown, bad = [], []
    for err in errors:
        loc = _loc(err)
        if err["type"] == "extra_forbidden":
            unknown.append(loc)
        elif err["type"] == "missing":
            bad.append(f"missing {loc!r}")
        else:
            bad.append(f"{loc}: {err['msg']}")
    parts = []
    if unknown:
        known = ", ".join(k for k in Recipe.model_fields if k != "lora")
        parts.append(f"unknown key(s) {', '.join(sorted(unknown))} "
                     f"(known: {known}, lora.r/alpha/dropout/target_modules/bias)")
    parts.extend(bad)
    return "; ".join(parts)


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = data
    for p in parents:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise EvalkitError(f"cannot set {key!r}: {p!r} is not a table")
        node = child
    node[last] = value
