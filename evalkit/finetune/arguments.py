"""TrainingArguments from a recipe, and the optimizer check (paged AdamW on CPU)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.finetune.loading import first_line
from evalkit.recipes import Recipe


def training_arguments(recipe: Recipe, folder: Path, has_eval: bool, precision: str, resuming: bool) -> Any:
    import torch
    from transformers import TrainingArguments

    cadence: dict[str, Any]
    if recipe.eval_every == "epoch":
        cadence = {"save_strategy": "epoch", "eval_strategy": "epoch" if has_eval else "no"}
    else:
        n = int(recipe.eval_every)
        cadence = {"save_strategy": "steps", "save_steps": n,
                   "eval_strategy": "steps" if has_eval else "no", "eval_steps": n if has_eval else None}
    try:
        return TrainingArguments(
            output_dir=str(folder), per_device_train_batch_size=recipe.batch_size,
            per_device_eval_batch_size=recipe.batch_size,
            gradient_accumulation_steps=recipe.gradient_accumulation_steps,
            num_train_epochs=recipe.epochs, max_steps=recipe.max_steps or -1, learning_rate=recipe.learning_rate,
            lr_scheduler_type=recipe.lr_scheduler, warmup_steps=recipe.warmup, weight_decay=recipe.weight_decay,
            optim=recipe.optimizer, max_grad_norm=recipe.max_grad_norm, **cadence,
            save_total_limit=1, load_best_model_at_end=recipe.keep_best and has_eval,
            metric_for_best_model="eval_loss", greater_is_better=False,
            eval_on_start=has_eval and not resuming, logging_strategy="steps", logging_steps=1,
            report_to="none", disable_tqdm=True, seed=recipe.seed, data_seed=recipe.seed,
            bf16=precision == "bf16", fp16=precision == "fp16",
            activation_checkpointing=recipe.gradient_checkpointing and recipe.quantization == "none",
            activation_checkpointing_kwargs={"use_reentrant": False} if recipe.gradient_checkpointing else None,
            include_num_input_tokens_seen="non_padding", dataloader_num_workers=0,
            use_cpu=not torch.cuda.is_available(),
        )
    except ValueError as e:
        raise EvalkitError(f"recipe {recipe.name!r}: {first_line(e)}") from None


def check_optimizer(args: Any) -> str | None:
    """Paged AdamW is CUDA-only: bitsandbytes runs it unpaged on CPU (noted). Where it cannot run at all
    on CPU, fall back to adamw_torch there (and say so); on a GPU a failure stays an error."""
    import torch
    from transformers import Trainer

    name = optim_name(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args)
            p = torch.nn.Parameter(torch.zeros(64, 64, device="cuda" if torch.cuda.is_available() else "cpu"))
            p.grad = torch.ones_like(p)
            cls([p], **kwargs).step()  # a real step: some optimizers fail only here
    except Exception as e:
        if torch.cuda.is_available():
            raise EvalkitError(f"optimizer {name!r} does not run here: {first_line(e)}") from None
        args.optim = "adamw_torch"
        return f"{name} does not run on this CPU ({first_line(e)}): adamw_torch was used instead"
    if "paged" in name and not torch.cuda.is_available():
        return f"{name} ran unpaged: bitsandbytes pages optimizer memory only on CUDA"
    return None


def optim_name(args: Any) -> str:
    return str(getattr(args.optim, "value", args.optim))
