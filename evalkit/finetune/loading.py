"""Loading a base model for training: 4-bit nf4 (bitsandbytes) with kbit preparation, LoRA wrapping
(peft), the mixed precision to train in, and the checks that fail before anything heavy runs."""

from __future__ import annotations

import warnings
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.finetune.basemodel import BaseModelRef
from evalkit.models.bnb import import_bitsandbytes
from evalkit.models.hf_cpu import compute_dtype_name
from evalkit.recipes import Recipe


def check_4bit(recipe: Recipe) -> None:
    """4-bit nf4 needs bitsandbytes (>= 0.45 for CPU support): fail before loading anything."""
    try:
        bitsandbytes = import_bitsandbytes()
        if bitsandbytes is None:
            raise ImportError("No module named 'bitsandbytes'")
    except Exception as e:  # ImportError, or a broken install raising anything else on import
        raise EvalkitError(f"recipe {recipe.name!r} loads the base in 4-bit nf4, which needs a working bitsandbytes "
                           f"({type(e).__name__}: {first_line(e)}): pip install 'bitsandbytes>=0.45', "
                           "or use --recipe lora (no 4-bit)") from None
    import torch
    from packaging.version import Version

    ver = getattr(bitsandbytes, "__version__", "0")
    if not torch.cuda.is_available() and Version(ver) < Version("0.45"):
        raise EvalkitError(f"bitsandbytes {ver} runs 4-bit only on CUDA GPUs and this machine has none: "
                           "pip install 'bitsandbytes>=0.45' (CPU support), or use --recipe lora")


def load_for_training(base: BaseModelRef, recipe: Recipe) -> tuple[Any, str]:
    """The model ready for the Trainer (4-bit + kbit preparation, LoRA wrapping) and the precision used."""
    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    kwargs: dict[str, Any] = {"dtype": getattr(torch, recipe.dtype), "trust_remote_code": False}  # never run a folder's code
    precision = precision_for(recipe, cuda)
    if recipe.quantization == "nf4":
        from transformers import BitsAndBytesConfig

        compute = getattr(torch, "float16" if precision == "fp16" else nf4_compute_dtype(recipe, cuda))
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute,
            bnb_4bit_use_double_quant=recipe.double_quant)
        kwargs["device_map"] = {"": 0 if cuda else "cpu"}
    try:
        model = AutoModelForCausalLM.from_pretrained(str(base.folder), **kwargs)
    except (OSError, ValueError, ImportError, RuntimeError) as e:
        raise EvalkitError(f"cannot load {base.label} for recipe {recipe.name!r}: {first_line(e)}") from None
    if recipe.quantization == "none" and cuda:
        model.to("cuda")
    return prepare_for_training(model, recipe), precision


def prepare_for_training(model: Any, recipe: Recipe) -> Any:
    """A loaded base (real or random weights) made ready for the Trainer: kbit preparation for a 4-bit
    base and the recipe's LoRA wrapping."""
    model.config.use_cache = False  # the cache is useless in training and conflicts with checkpointing
    if recipe.method == "lora":
        import_bitsandbytes()  # peft imports it: first without the hub kernel lookup
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        assert recipe.lora is not None
        _check_targets(model, recipe)
        if recipe.quantization == "nf4":
            # bitsandbytes 0.50 repacks 4-bit weights for its AVX512-bf16 CPU kernel on the first no-grad
            # forward (our evaluation) and never unpacks them; that kernel has no backward, so later
            # training steps would get wrong gradients. Keep the trainable layout.
            for mod in model.modules():
                if hasattr(mod, "support_avx512bf16_for_cpu"):
                    mod.support_avx512bf16_for_cpu = False
            with warnings.catch_warnings():  # peft calls transformers' renamed checkpointing API
                warnings.filterwarnings("ignore", category=FutureWarning)
                model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=recipe.gradient_checkpointing,
                                                        gradient_checkpointing_kwargs={"use_reentrant": False})
        cfg = LoraConfig(r=recipe.lora.r, lora_alpha=recipe.lora.alpha, lora_dropout=recipe.lora.dropout,
                         target_modules=recipe.lora.target_modules, bias=recipe.lora.bias, task_type="CAUSAL_LM")
        with warnings.catch_warnings():  # peft reads transformers' renamed `is_gradient_checkpointing`
            warnings.filterwarnings("ignore", category=FutureWarning)
            model = get_peft_model(model, cfg)
    return model


def nf4_compute_dtype(recipe: Recipe, cuda: bool) -> str:
    """The 4-bit layers' compute dtype here: the recipe's, but float32 where it asks for bf16 on a CPU
    without bf16 units (the seed's QLoRA recipe is a GPU recipe; bf16 there is ~7x slower on such CPUs)."""
    from evalkit.models import hf  # its cpu_has_bf16: the one detector tests patch

    return compute_dtype_name(recipe.compute_dtype, "cuda" if cuda else "cpu", hf.cpu_has_bf16)


def precision_for(recipe: Recipe, cuda: bool) -> str:
    """auto: bf16 autocast where the hardware has fast bf16 (a GPU that supports it; a CPU with
    AVX512-bf16/AMX, where it trains ~4x faster than fp32), else fp32. 4-bit bases use their compute dtype."""
    import torch

    from evalkit.models.hf import cpu_has_bf16

    bf16_ok = torch.cuda.is_bf16_supported() if cuda else cpu_has_bf16()
    if recipe.mixed_precision == "auto":
        if recipe.quantization == "nf4":
            if nf4_compute_dtype(recipe, cuda) == "float32":
                return "no"
            if recipe.compute_dtype == "float16" or (cuda and not bf16_ok):
                return "fp16" if cuda else "no"
            return "bf16"
        return "bf16" if bf16_ok else "no"
    if recipe.mixed_precision == "fp16" and not cuda:
        raise EvalkitError("mixed_precision = \"fp16\" needs a CUDA GPU: use bf16 or no on CPU")
    return recipe.mixed_precision


def _check_targets(model: Any, recipe: Recipe) -> None:
    assert recipe.lora is not None
    targets = recipe.lora.target_modules
    if targets == "all-linear":
        return
    import torch

    linear = {name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
              if isinstance(mod, torch.nn.Linear) or type(mod).__name__.startswith("Linear")
              or type(mod).__name__ == "Conv1D"}  # GPT-2's projections are Conv1D
    missing = [t for t in targets if t not in linear]
    if len(missing) == len(targets):
        raise EvalkitError(f"recipe {recipe.name!r} puts LoRA on {', '.join(targets)}, which this model does not have; "
                           f"its linear layers are {', '.join(sorted(linear)) or 'none'}: "
                           "--set lora.target_modules=NAME,NAME (or all-linear)")


def parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, total) parameters; a 4-bit weight counts the two values each byte packs."""
    from evalkit.models.random_weights import count_parameters

    total, trainable = count_parameters(model)
    return trainable, total


def first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:300] if lines else type(e).__name__
