"""Models at their real shapes with random weights (``weights = "random"``): the configuration comes
from a shipped shape file (evalkit/models/shapes/*.json, the hub release's config.json and tokenizer
facts), a local model folder's config.json or the local Hugging Face cache; nothing is downloaded and no
weights are read. Speed and memory do not depend on the weights' values, so a team can see what a model
costs before it fetches 16 GB.

The model is built on the meta device and materialised one module at a time with random values; a 4-bit
model is quantized as ``from_pretrained`` quantizes a checkpoint (transformers' bitsandbytes quantizer
swaps the Linear layers, each weight goes through ``Params4bit(...).to(device)``), so peak memory stays
near the quantized size (an 8B model never exists in bf16). ``quantize_layers`` lets a slow device
quantize only the first layers from random values and fill the others with copies of their quantized
tensors (same bytes, same speed; the build time of the copies is not a quantization's and is estimated
from the measured layers instead)."""

from __future__ import annotations

import copy
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evalkit.errors import EvalkitError, ModelNotFound
from evalkit.recipes import default_recipe, load_recipe
from evalkit.models.base import ModelSpec
from evalkit.models.bnb import import_bitsandbytes
from evalkit.models.hf_cpu import compute_dtype_name, dense_head_input, dtype_name
from evalkit.models.hf_options import HFOptions
from evalkit.models.hub import hub_snapshot
from evalkit.models.weights import read_json_object

SHAPES_DIR = Path(__file__).with_name("shapes")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


class ShapeUnknown(ModelNotFound):
    """``weights = "random"`` for a model whose configuration evalkit cannot know (one line, exit 2)."""


class TokenizerShape(BaseModel):
    """What prompt lengths need from a tokenizer that is not on this machine."""

    model_config = ConfigDict(extra="forbid")

    vocab_size: int = Field(description="the tokenizer's vocabulary size (ids drawn below it)")
    pretokenizer: str = Field(description="the tokenizer's pre-tokenization regex (from its tokenizer.json)")
    special_tokens: list[str] = Field(default_factory=list, description="special token strings, one id each")
    bos_token: str | None = Field(None, description="the BOS token string the chat template inserts")
    plain_prefix_tokens: int = Field(0, description="special tokens the tokenizer adds to a plain prompt (BOS)")
    chat_template: str | None = Field(None, description="the tokenizer's chat template (jinja), None: plain prompts")


class ModelShape(BaseModel):
    """A shipped shape file: a released model's configuration without its weights."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="shape file name")
    sources: list[str] = Field(description="hub ids this shape is the configuration of")
    description: str = Field("", description="what the file holds")
    config: dict[str, Any] = Field(description="the release's config.json")
    generation_eos_token_ids: list[int] = Field(default_factory=list, description="generation_config eos ids")
    tokenizer: TokenizerShape = Field(description="tokenizer facts for prompt lengths")


@dataclass(frozen=True)
class ShapeSource:
    """Where a random-weights model's configuration (and tokenizer, if any) comes from."""

    config: dict[str, Any]
    origin: str  # "shipped shape distilgpt2.json", "folder /x/config.json", "hub cache …"
    tokenizer_shape: TokenizerShape | None = None
    tokenizer_folder: str | None = None  # a real tokenizer on this machine (exact prompt lengths)


def shipped_shapes() -> dict[str, ModelShape]:
    """hub id -> shape, from evalkit/models/shapes/*.json."""
    out: dict[str, ModelShape] = {}
    for f in sorted(SHAPES_DIR.glob("*.json")):
        shape = ModelShape.model_validate(json.loads(f.read_text(encoding="utf-8")))
        for s in shape.sources:
            out[s] = shape
    return out


def shape_for(spec: ModelSpec) -> ShapeSource:
    """The configuration of ``spec`` for random weights, or ShapeUnknown saying why there is none."""
    label = spec.label
    why = "random weights need the model's configuration (layers, widths, vocabulary)"
    if spec.backend != "hf":
        raise ShapeUnknown(f"{label}: {why}, and a backend {spec.backend!r} model runs elsewhere with no "
                           "configuration evalkit can read: use an hf model (a preset, a folder with config.json or "
                           "a hub id with a shipped shape)")
    o = spec.options
    source = o.get("source")
    if o.get("gguf_package") or (isinstance(source, str) and source.lower().endswith(".gguf")):
        raise ShapeUnknown(f"{label}: {why}, and a GGUF file has no transformers configuration evalkit knows: "
                           "give its original hub id or a folder with config.json")
    if not isinstance(source, str) or not source:
        raise ShapeUnknown(f"{label}: {why}, and it names no source")
    shipped = shipped_shapes()
    if source in shipped:
        shape = shipped[source]
        return ShapeSource(dict(shape.config), f"shipped shape {shape.name}.json", shape.tokenizer, _cached_tokenizer(source))
    path = Path(os.path.expanduser(source))
    if path.exists():
        if not (path / "config.json").is_file():
            raise ShapeUnknown(f"{label}: {why}, and {source} has no config.json")

        tok = str(path) if any((path / n).is_file() for n in TOKENIZER_FILES) else None
        return ShapeSource(read_json_object(path / "config.json"), f"folder {path / 'config.json'}", None, tok)

    snap = hub_snapshot(source)
    if snap and (Path(snap) / "config.json").is_file():

        return ShapeSource(read_json_object(Path(snap) / "config.json"), f"hub cache {snap}", None, _cached_tokenizer(source))
    raise ShapeUnknown(f"{label}: {why}, and {source} is neither a shipped shape ({', '.join(sorted(shipped))}) "
                       "nor in the local Hugging Face cache: add a shape file or give a folder with config.json")


def _cached_tokenizer(source: str) -> str | None:
    snap = hub_snapshot(source)
    return snap if snap and any((Path(snap) / n).is_file() for n in TOKENIZER_FILES) else None


# ------------------------------------------------------------------------------------------ building


@dataclass(frozen=True)
class LoraShape:
    """The adapter a random model is wrapped in (r/alpha/targets of a recipe)."""

    r: int
    alpha: int
    dropout: float
    target_modules: list[str] | str
    bias: str = "none"


@dataclass(frozen=True)
class BuildPlan:
    """How to build: quantization and dtypes as the real loader uses them, the adapter, the device, how
    many decoder layers (None: the configuration's) and how many of them to quantize from random values
    (None: all; the rest are copies of those layers' tensors)."""

    quantization: str | None = None  # "nf4" or None
    dtype: str = "bfloat16"  # the weights that stay unquantized
    compute_dtype: str = "bfloat16"
    double_quant: bool = False
    lora: LoraShape | None = None
    lora_inference: bool = True  # an adapter kept for generation (False: trainable, for finetune)
    device: str = "cpu"
    layers: int | None = None
    quantize_layers: int | None = None
    seed: int = 0


def plan_for(spec: ModelSpec, device: str, layers: int | None = None, quantize_layers: int | None = None) -> tuple[BuildPlan, str | None]:
    """The build plan that mirrors how the hf backend loads ``spec`` (quantization, dtype), with 4-bit
    settings and the LoRA adapter's shape from the model's fine-tuning recipe (qlora.toml for
    llama3-qlora: nf4, bf16 compute, double quant, r/alpha/targets); the recipe's name, or None."""

    opts = HFOptions.model_validate(spec.options)
    if opts.quantization not in (None, "nf4"):
        raise EvalkitError(f"{spec.label}: random weights are built in nf4 or unquantized, not {opts.quantization!r}")
    wants_adapter = bool(opts.adapter or opts.requires_adapter)
    recipe_name = default_recipe(spec.label, spec.options) if (wants_adapter or opts.quantization) else None
    recipe = load_recipe(recipe_name)[0] if recipe_name else None
    lora = None
    if wants_adapter and recipe is not None and recipe.method == "lora" and recipe.lora is not None:
        lora = LoraShape(recipe.lora.r, recipe.lora.alpha, recipe.lora.dropout, recipe.lora.target_modules, recipe.lora.bias)
    nf4_recipe = recipe is not None and recipe.quantization == "nf4"
    plan = BuildPlan(quantization=opts.quantization, dtype=dtype_name(opts.dtype, device),
                     compute_dtype=compute_dtype_name(recipe.compute_dtype if nf4_recipe and recipe else "bfloat16", device),
                     double_quant=bool(recipe.double_quant) if nf4_recipe and recipe else False,
                     lora=lora, device=device, layers=layers, quantize_layers=quantize_layers)
    return plan, recipe_name


@dataclass
class BuiltModel:
    """A random-weights model and what building it cost."""

    model: Any
    config: Any
    full_layers: int  # the configuration's decoder layers
    built_layers: int  # decoder layers in this model
    quantized_layers: int  # layers materialised from random values (the others are copies)
    fixed_s: float  # seconds for everything but the decoder layers (embeddings, norms, head, wrapping)
    layer_s: list[float] = field(default_factory=list)  # seconds for each decoder layer, in order
    copy_s: float = 0.0  # seconds spent copying layers (not a real load cost)

    @property
    def build_s(self) -> float:
        return self.fixed_s + sum(self.layer_s) + self.copy_s

    def layers(self) -> Any:
        return decoder_layers(self.base_model())

    def base_model(self) -> Any:
        m = self.model
        return m.get_base_model() if hasattr(m, "get_base_model") else m


def decoder_layers(model: Any) -> Any:
    """The ModuleList of decoder blocks (Llama: model.layers, GPT-2: transformer.h)."""
    import torch

    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    n = cfg.num_hidden_layers
    best = None
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and len(mod) == n and (best is None or name.count(".") < best[0].count(".")):
            best = (name, mod)
    if best is None:
        raise EvalkitError(f"cannot find the {n} decoder layers of {type(model).__name__}")
    return best[1]


def set_depth(built: BuiltModel, layers: list[Any], n: int) -> None:
    """Run only the first ``n`` decoder layers (a layer prefix) of ``layers`` (the full list)."""
    import torch

    base = built.base_model()
    holder = _layers_parent(base)
    parent, attr = holder
    setattr(parent, attr, torch.nn.ModuleList(layers[:n]))
    cfg = base.config.get_text_config() if hasattr(base.config, "get_text_config") else base.config
    cfg.num_hidden_layers = n
    if isinstance(getattr(cfg, "layer_types", None), list):
        cfg.layer_types = cfg.layer_types[:n] if len(cfg.layer_types) >= n else cfg.layer_types


def _layers_parent(model: Any) -> tuple[Any, str]:
    target = decoder_layers(model)
    for mod in model.modules():
        for name, child in mod.named_children():
            if child is target:
                return mod, name
    raise EvalkitError("decoder layers have no parent module")


def build_random(source: ShapeSource, plan: BuildPlan) -> BuiltModel:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    t0 = time.perf_counter()
    cfg_dict = dict(source.config)
    model_type = cfg_dict.pop("model_type", None)
    if not model_type:
        raise ShapeUnknown(f"{source.origin}: the configuration names no model_type")
    for key in ("transformers_version", "_name_or_path", "quantization_config", "auto_map"):
        cfg_dict.pop(key, None)
    try:
        cfg = AutoConfig.for_model(model_type, **cfg_dict)
    except (ValueError, KeyError) as e:
        raise ShapeUnknown(f"{source.origin}: transformers does not know model_type {model_type!r} ({e})") from None
    full_layers = cfg.num_hidden_layers
    n_layers = min(plan.layers or full_layers, full_layers)
    cfg.num_hidden_layers = n_layers
    if isinstance(getattr(cfg, "layer_types", None), list):
        cfg.layer_types = cfg.layer_types[:n_layers]
    dtype = getattr(torch, plan.dtype)
    torch.manual_seed(plan.seed)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype, trust_remote_code=False)
    quantizer = None
    if plan.quantization == "nf4":
        quantizer = _nf4_quantizer(plan)
        quantizer.preprocess_model(model, device_map={"": plan.device}, dtype=dtype)
        model.hf_quantizer = quantizer
    elif plan.quantization:
        raise EvalkitError(f"random weights are built in nf4 or without quantization, not {plan.quantization!r}")
    layers = decoder_layers(model)
    in_layers = {id(p) for p in layers.parameters()}
    std = float(getattr(cfg, "initializer_range", 0.02) or 0.02)
    device = torch.device(plan.device)
    with torch.no_grad():
        # everything outside the decoder layers first, so each layer's time is its own
        for mod_name, mod, pname, p in _meta_params(model):
            if id(p) not in in_layers:
                _materialise(mod, pname, p, device, dtype, std)
        fixed_s = time.perf_counter() - t0
        q = n_layers if plan.quantize_layers is None else max(1, min(plan.quantize_layers, n_layers))
        layer_s: list[float] = []
        copy_s = 0.0
        for i, layer in enumerate(layers):
            t1 = time.perf_counter()
            if i < q:
                for _, mod, pname, p in _meta_params(layer):
                    _materialise(mod, pname, p, device, dtype, std)
                layer_s.append(time.perf_counter() - t1)
            else:
                _copy_layer(layers[i % q], layer)
                copy_s += time.perf_counter() - t1
        t2 = time.perf_counter()
        _rebuild_meta_buffers(model, device)
        if getattr(model.config, "tie_word_embeddings", False):
            model.tie_weights()
    if quantizer is not None:
        quantizer.postprocess_model(model)
    model.eval()
    if plan.lora is not None:
        model = _wrap_lora(model, plan.lora, plan.lora_inference)
    if device.type == "cpu":

        dense_head_input(model)
    fixed_s += time.perf_counter() - t2
    return BuiltModel(model=model, config=cfg, full_layers=full_layers, built_layers=n_layers, quantized_layers=q,
                      fixed_s=fixed_s, layer_s=layer_s, copy_s=copy_s)


def _nf4_quantizer(plan: BuildPlan) -> Any:
    import_bitsandbytes()  # the quantizer imports it: first without the hub kernel lookup
    import torch
    from transformers import BitsAndBytesConfig
    from transformers.quantizers import AutoHfQuantizer

    bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                             bnb_4bit_compute_dtype=getattr(torch, plan.compute_dtype),
                             bnb_4bit_use_double_quant=plan.double_quant)
    return AutoHfQuantizer.from_config(bnb, pre_quantized=False)


def _meta_params(module: Any) -> list[tuple[str, Any, str, Any]]:
    out = []
    for mod_name, mod in module.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            if p.device.type == "meta":
                out.append((mod_name, mod, pname, p))
    return out


def _materialise(mod: Any, pname: str, p: Any, device: Any, dtype: Any, std: float) -> None:
    """Random values for one meta parameter: a 4-bit Linear's weight is quantized the way transformers
    quantizes a checkpoint tensor; norms start at one, biases at zero, matrices ~ N(0, std)."""
    import torch

    if p.dim() >= 2:
        value = torch.empty(p.shape, dtype=dtype, device=device).normal_(0.0, std)
    elif pname == "weight":
        value = torch.ones(p.shape, dtype=dtype, device=device)
    else:
        value = torch.zeros(p.shape, dtype=dtype, device=device)
    if type(mod).__name__ == "Linear4bit" and pname == "weight":
        bnb = import_bitsandbytes()
        new = bnb.nn.Params4bit(value, requires_grad=False, **p.__dict__).to(device)
        mod._is_hf_initialized = True
    else:
        new = torch.nn.Parameter(value, requires_grad=p.requires_grad)
    mod._parameters[pname] = new
    del value


def _copy_layer(src: Any, dst: Any) -> None:
    """Fill the meta layer ``dst`` with copies of ``src``'s (materialised) tensors."""
    import torch

    src_params = dict(src.named_parameters())
    for mod_name, mod, pname, p in _meta_params(dst):
        s = src_params[f"{mod_name}.{pname}" if mod_name else pname]
        if type(s).__name__ == "Params4bit":
            new = type(s)(s.data.clone(), requires_grad=False, quant_state=copy.deepcopy(s.quant_state),
                          blocksize=s.blocksize, compress_statistics=s.compress_statistics, quant_type=s.quant_type,
                          quant_storage=s.quant_storage, module=mod, bnb_quantized=True)
            mod.quant_state = new.quant_state
        else:
            new = torch.nn.Parameter(s.data.clone(), requires_grad=s.requires_grad)
        mod._parameters[pname] = new


def _rebuild_meta_buffers(model: Any, device: Any) -> None:
    """Buffers computed in __init__ (rotary frequencies, masks) are still on meta: build those modules
    again from the configuration."""
    targets = []
    for name, mod in model.named_modules():
        if any(b.device.type == "meta" for b in mod.buffers(recurse=False)):
            targets.append(name)
    for name in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        old = getattr(parent, attr)
        try:
            new = type(old)(config=old.config if hasattr(old, "config") else model.config)
        except TypeError as e:
            raise EvalkitError(f"cannot rebuild {name} ({type(old).__name__}) of a random-weights model: {e}") from None
        setattr(parent, attr, new.to(device))


def _wrap_lora(model: Any, lora: LoraShape, inference: bool) -> Any:
    import_bitsandbytes()  # peft imports it: first without the hub kernel lookup
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules,
                     bias=lora.bias, task_type="CAUSAL_LM", inference_mode=inference)
    with warnings.catch_warnings():  # peft reads transformers' renamed checkpointing API
        warnings.filterwarnings("ignore", category=FutureWarning)
        wrapped = get_peft_model(model, cfg)
    if inference:
        wrapped.eval()
    return wrapped


# ------------------------------------------------------------------------------------------ sizes


def tensor_bytes(module: Any) -> int:
    """Bytes held by a module's parameters and buffers, 4-bit quantization states included."""
    seen: set[int] = set()
    total = 0

    def add(t: Any) -> None:
        nonlocal total
        if t is None or id(t) in seen or getattr(t, "device", None) is None or t.device.type == "meta":
            return
        seen.add(id(t))
        total += t.numel() * t.element_size()

    for p in module.parameters():
        add(p)
        qs = getattr(p, "quant_state", None)
        while qs is not None:
            add(getattr(qs, "absmax", None))
            add(getattr(qs, "code", None))
            add(getattr(qs, "offset", None) if hasattr(getattr(qs, "offset", None), "numel") else None)
            qs = getattr(qs, "state2", None)
    for b in module.buffers():
        add(b)
    return total


def count_parameters(module: Any) -> tuple[int, int]:
    """(all parameters, trainable ones); a 4-bit weight counts the values it packs (two per byte)."""
    total = trainable = 0
    for p in module.parameters():
        n = p.numel() * (2 if type(p).__name__ == "Params4bit" else 1)
        total += n
        trainable += n if p.requires_grad else 0
    return total, trainable


def lora_parameters(module: Any) -> int:
    return sum(p.numel() for name, p in module.named_parameters() if "lora_" in name)
