"""`evalkit finetune`: a recipe, a base model and a suite's train/validation splits -> transformers'
Trainer (+ peft for LoRA/QLoRA) -> the kept weights or adapter, with training_record.json beside them."""

from __future__ import annotations

import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.finetune.arguments import check_optimizer, optim_name, training_arguments
from evalkit.finetune.basemodel import BaseModelRef, resolve_base
from evalkit.finetune.data import build_examples, resolve_format
from evalkit.finetune.loading import check_4bit, first_line, load_for_training, parameter_counts
from evalkit.finetune.output import CHECKPOINTS, STAGING, clean_up, install, last_checkpoint, prepare_output
from evalkit.recipes import Recipe, default_recipe, load_recipe
from evalkit.finetune.record import PLAN_FILE, BaseModelInfo, FinetunePlan, SuiteInfo, TrainingRecord
from evalkit.models.base import TRAINING_RECORD
from evalkit.records import stable_hash, write_json
from evalkit.suites import Suite, load_suite


@dataclass
class FinetuneOptions:
    model: str
    suite: str | None = None
    recipe: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    output: str | Path | None = None
    train_split: str = "train"
    eval_split: str | None = "validation"  # None: no validation (the last checkpoint is kept)
    overwrite: bool = False
    resume: bool = True
    models_file: str | Path | None = None


@dataclass
class FinetuneResult:
    record: TrainingRecord
    already_done: bool = False


def default_output(base: BaseModelRef, recipe: Recipe) -> Path:
    """Where the presets look: results/finetuned/<label> (full) or results/adapters/<label> (LoRA),
    or the preset's own finetuned/adapter path when it names one."""
    o = base.spec.options
    if recipe.saves_adapter:
        return Path(o["adapter"]) if isinstance(o.get("adapter"), str) else Path("results/adapters") / safe_name(base.label)
    return Path(o["finetuned"]) if isinstance(o.get("finetuned"), str) else Path("results/finetuned") / safe_name(base.label)


def safe_name(label: str) -> str:
    """One folder name from a label: a models-file name like "../../x" or "/etc" must not lead the
    default output out of results/ (separators, leading dots and anything unusual become '-')."""
    name = re.sub(r"[^A-Za-z0-9._+-]+", "-", label).strip("-.")
    name = re.sub(r"\.{2,}", ".", name)
    return name or "model"


def check_apart(out: Path, base: BaseModelRef) -> None:
    """The output must not be, hold or sit inside the base model's files: --overwrite would delete
    the very model being trained (and a fine-tune would mix with its base)."""
    real = out.expanduser().resolve()
    folders, files = {base.folder.expanduser().resolve()}, set()
    for p in (base.source, base.gguf):
        q = Path(p).expanduser() if p else None
        if q is not None and q.exists():
            (folders if q.is_dir() else files).add(q.resolve())
    for src in folders:
        if real == src or real.is_relative_to(src) or src.is_relative_to(real):
            how = "is" if real == src else "is inside" if real.is_relative_to(src) else "holds"
            raise EvalkitError(f"output {out} {how} the base model's folder {src}: choose another --output "
                               "(nothing was changed)")
    for src in files:
        if src.is_relative_to(real):
            raise EvalkitError(f"output {out} holds the base model's file {src}: choose another --output "
                               "(nothing was changed)")


def run_finetune(opts: FinetuneOptions, console: Any = None) -> FinetuneResult:
    import logging

    from evalkit.suites import default_suite_name

    # bitsandbytes (imported by peft/transformers) warns about an optional CPU kernel package at import
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)

    base = resolve_base(opts.model, opts.models_file)
    recipe, recipe_file = load_recipe(opts.recipe or default_recipe(base.label, base.spec.options), opts.overrides)
    suite = load_suite(opts.suite or default_suite_name())
    train_items = _split(suite, opts.train_split, "training")
    eval_items = _split(suite, opts.eval_split, "validation") if opts.eval_split else []
    if recipe.quantization == "nf4":
        check_4bit(recipe)
    out = Path(opts.output) if opts.output else default_output(base, recipe)
    recipe_dump = recipe.model_dump(mode="json")
    identity = stable_hash({"base": base.fingerprint, "recipe": recipe_dump, "suite": suite.hash,
                            "splits": [opts.train_split, opts.eval_split]})
    plan = FinetunePlan(identity=identity, base_label=base.label, base_fingerprint=base.fingerprint,
                        recipe=recipe_dump, suite_hash=suite.hash, splits=[opts.train_split, opts.eval_split])
    check_apart(out, base)
    state = prepare_output(out, plan, opts.overwrite, opts.resume)
    if state.action == "done" and state.record is not None:
        return FinetuneResult(state.record, already_done=True)
    if state.action == "resume" and state.plan is not None:
        plan = state.plan
    else:
        plan.checkpoint_wall_s = {}
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / PLAN_FILE, plan)
    try:
        return FinetuneResult(_train(base, recipe, recipe_file, suite, train_items, eval_items, opts, out, plan,
                                     state.checkpoint, console))
    except BaseException:
        # nothing to resume yet: leave the folder as we found it, so other settings are not refused
        if last_checkpoint(out / CHECKPOINTS) is None and not (out / TRAINING_RECORD).exists():
            clean_up(out)
            if created and not any(out.iterdir()):
                out.rmdir()
        raise


def _split(suite: Suite, name: str, role: str) -> list[Any]:
    if name not in suite.splits:
        raise EvalkitError(f"suite {suite.name!r} has no split {name!r}: choose one of {', '.join(suite.splits)}")
    items = [i for i in suite.items if i.split == name]
    if not items:
        hint = " (or --eval-split none to train without validation)" if role == "validation" else ""
        raise EvalkitError(f"split {name!r} of suite {suite.name!r} is empty: fine-tuning needs {role} stories{hint}")
    return items


def _train(base: BaseModelRef, recipe: Recipe, recipe_file: Path, suite: Suite, train_items: list[Any],
           eval_items: list[Any], opts: FinetuneOptions, out: Path, plan: FinetunePlan,
           checkpoint: Path | None, console: Any) -> TrainingRecord:
    import torch
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq, Trainer
    from transformers import logging as hf_logging
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from evalkit._version import __version__
    from evalkit.finetune.progress import CheckpointClock, RichTrainProgress
    from evalkit.measure import MemoryTracker, device_line, git_sha, hardware, library_versions

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # our own bar shows training; load/save bars are noise
    try:
        tok = AutoTokenizer.from_pretrained(str(base.folder), trust_remote_code=False)  # never run a folder's code
    except (OSError, ValueError, ImportError) as e:
        raise EvalkitError(f"cannot load the tokenizer of {base.label} from {base.folder}: {first_line(e)}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    fmt = resolve_format(recipe.format, tok, bool(base.spec.options.get("chat", True)))
    train_ds, train_stats = build_examples(suite, train_items, tok, fmt, recipe.max_length)
    eval_ds, _ = build_examples(suite, eval_items, tok, fmt, recipe.max_length)
    if not train_ds:
        raise EvalkitError(f"every training prompt is longer than max_length {recipe.max_length}: "
                           "raise it with --max-length")

    tracker = MemoryTracker()
    tracker.start()
    t0 = time.perf_counter()
    model, precision = load_for_training(base, recipe)
    load_s = time.perf_counter() - t0

    args = training_arguments(recipe, out / CHECKPOINTS, bool(eval_ds), precision, resuming=checkpoint is not None)
    optimizer_note = check_optimizer(args)
    with warnings.catch_warnings():  # Trainer/peft still query transformers' renamed checkpointing API
        warnings.filterwarnings("ignore", category=FutureWarning)
        trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds or None,
                          data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100))
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    prior_s = plan.checkpoint_wall_s.get(checkpoint.name, 0.0) if checkpoint else 0.0
    clock = CheckpointClock(plan, out / PLAN_FILE, prior_s)
    trainer.add_callback(clock)
    if console is not None:
        trainer.add_callback(RichTrainProgress(console, f"{base.label} [{recipe.name}]"))

    t1, c1 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        # peft still calls transformers' renamed gradient-checkpointing API; the paged-optimizer
        # fallback on CPU is noted in the record instead
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message="Paged optimizers are not supported on CPU")
        result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    session_s, session_cpu_s = time.perf_counter() - t1, time.process_time() - c1
    hist = list(trainer.state.log_history)  # before the final evaluate() adds its own entry
    final_eval = trainer.evaluate() if eval_ds else {}
    peak = tracker.stop()

    t2 = time.perf_counter()
    staging = out / STAGING
    save_trained(trainer, tok, base, fmt, recipe, staging)
    install(staging, out)
    save_s = time.perf_counter() - t2

    losses = [{"step": h["step"], "loss": float(h["loss"])} for h in hist if "loss" in h]
    evals = [{"step": h["step"], "epoch": float(h.get("epoch") or 0), "eval_loss": float(h["eval_loss"])}
             for h in hist if "eval_loss" in h]
    initial = next((e["eval_loss"] for e in evals if e["step"] == 0), None)
    trainable, total = parameter_counts(trainer.model)
    record = TrainingRecord(
        identity=plan.identity, recipe=recipe.name, recipe_file=str(recipe_file), method=recipe.method,
        output=str(out.resolve()), output_kind="adapter" if recipe.saves_adapter else "checkpoint", format=fmt,  # type: ignore[arg-type]
        hyperparameters={**recipe.model_dump(mode="json"),
                         "gradient_accumulation_steps": recipe.gradient_accumulation_steps,
                         "effective_batch_size": recipe.batch_size * recipe.gradient_accumulation_steps,
                         "optimizer_used": optim_name(args), "optimizer_note": optimizer_note,
                         "precision": precision, "max_steps_resolved": trainer.state.max_steps},
        base=BaseModelInfo(label=base.label, source=base.source, resolved_path=str(base.folder),
                           fingerprint=base.fingerprint, gguf=base.gguf, parameters=total,
                           trainable_parameters=trainable),
        suite=SuiteInfo(name=suite.name, path=str(suite.path.resolve()), hash=suite.hash, train_split=opts.train_split,
                        eval_split=opts.eval_split if eval_ds else None, n_train=len(train_ds), n_eval=len(eval_ds),
                        train_tokens=train_stats.tokens, train_story_tokens=train_stats.story_tokens,
                        truncated=train_stats.truncated, dropped=train_stats.dropped),
        seed=recipe.seed, wall_time_s=round(prior_s + session_s, 3), session_wall_s=round(session_s, 3),
        session_cpu_s=round(session_cpu_s, 3),
        resumed_from_step=_step_of(checkpoint), load_s=round(load_s, 3), save_s=round(save_s, 3),
        global_step=trainer.state.global_step, epochs=float(trainer.state.epoch or 0),
        tokens_seen=int(trainer.state.num_input_tokens_seen or 0), peak_memory=peak,
        device=device_line(hardware()), hardware=hardware(), libraries=library_versions(),
        train_loss=losses[-1]["loss"] if losses else None, train_loss_mean=float(result.training_loss),
        validation_loss=float(final_eval["eval_loss"]) if "eval_loss" in final_eval else None,
        initial_validation_loss=initial, best_step=trainer.state.best_global_step,
        loss_history=losses, eval_history=evals, evalkit_version=__version__, git_sha=git_sha(),
        command=sys.argv[:],
    )
    write_json(out / TRAINING_RECORD, record)  # last: the record marks the folder complete
    clean_up(out)
    del trainer, model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return record


def save_trained(trainer: Any, tok: Any, base: BaseModelRef, fmt: str, recipe: Recipe, staging: Path) -> None:
    import shutil

    shutil.rmtree(staging, ignore_errors=True)
    model = trainer.model
    model.config.use_cache = True
    if recipe.saves_adapter:
        for cfg in model.peft_config.values():
            cfg.base_model_name_or_path = base.adapter_base  # resolvable by `compare`, not a cache path
    with warnings.catch_warnings():  # peft looks for a config.json beside a .gguf base to check the vocabulary
        warnings.filterwarnings("ignore", message="Could not find a config file")
        trainer.save_model(str(staging))
    (staging / "training_args.bin").unlink(missing_ok=True)
    if fmt == "plain" and getattr(tok, "chat_template", None):
        tok.chat_template = None  # compare must prompt the model the way it was trained
    tok.save_pretrained(str(staging))


def _step_of(checkpoint: Path | None) -> int | None:
    return int(checkpoint.name.rsplit("-", 1)[1]) if checkpoint else None
