"""`evalkit finetune MODEL --random-weights --max-steps N`: a few real optimizer steps of the recipe at the
model's real shape with random weights (the recipe's sequence length, batch, 4-bit base, LoRA, gradient
checkpointing, optimizer, precision), timed with transformers' Trainer, and the training time of the
suite's train split (81 stories for persona-tales) over the recipe's epochs projected from them.

Where a full-depth step is too slow (an 8B model on a CPU), steps run on layer prefixes (1/2/3 of 32 by
default) with one micro-batch each, and the time per micro-batch is extrapolated to full depth by the
same linear fit as the capacity measurement (capacity.fit). Nothing is saved but the record: random
weights train nothing worth keeping, and a record beside a preset's adapter path would pass for a real
training."""

from __future__ import annotations

import logging
import math
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evalkit._version import __version__
from evalkit.capacity.engine import choose_prefixes, estimate_model
from evalkit.capacity.fit import fit_layers
from evalkit.records import Figure, StepSample, TrainingProjection
from evalkit.finetune.arguments import check_optimizer, optim_name, training_arguments
from evalkit.finetune.loading import check_4bit, nf4_compute_dtype, precision_for, prepare_for_training
from evalkit.recipes import default_recipe, load_recipe
from evalkit.finetune.record import PROJECTION_FILE, BaseModelInfo, ProjectedTraining, SuiteInfo
from evalkit.finetune.train import FinetuneOptions, _split, safe_name
from evalkit.measure import MemoryTracker, device_line, git_sha, hardware, library_versions
from evalkit.models.random_weights import BuildPlan, build_random, count_parameters, set_depth, shape_for
from evalkit.models.registry import resolve_model
from evalkit.records import stable_hash, write_json
from evalkit.suites import default_suite_name, load_suite

DEFAULT_STEPS = 3
CPU_PREFIXES = (1, 2, 3)  # a training step costs far more per layer than a decode step


@dataclass
class ProjectionOptions(FinetuneOptions):
    """FinetuneOptions (eval_split, overwrite and resume unused: nothing is trained to keep) plus the
    layer prefixes to time (None: full depth on a GPU or below 1B parameters, else 1/2/3) and the device."""

    prefixes: tuple[int, ...] | None = None
    device: str | None = None


def run_projection(opts: ProjectionOptions, console: Any = None) -> ProjectedTraining:
    import torch

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    spec = resolve_model(opts.model, opts.models_file)
    source = shape_for(spec)  # a GGUF, a server or a folder without config.json: one line, exit 2
    recipe, recipe_file = load_recipe(opts.recipe or default_recipe(spec.label, spec.options), opts.overrides)
    steps = recipe.max_steps or DEFAULT_STEPS
    suite = load_suite(opts.suite or default_suite_name())
    train_items = _split(suite, opts.train_split, "training")
    if recipe.quantization == "nf4":
        check_4bit(recipe)
    device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(opts.output) if opts.output else Path("results/capacity") / safe_name(spec.label)
    say = (lambda m: console.print(m, markup=False, highlight=False)) if console is not None else (lambda _m: None)
    return _project(spec, source, recipe, recipe_file, suite, train_items, steps, device, opts, out, say)


def _project(spec: Any, source: Any, recipe: Any, recipe_file: Path, suite: Any, train_items: list[Any], steps: int,
             device: str, opts: ProjectionOptions, out: Path, say: Any) -> ProjectedTraining:
    import torch

    cuda = device.startswith("cuda")
    precision = precision_for(recipe, cuda)
    plan = BuildPlan(quantization="nf4" if recipe.quantization == "nf4" else None, dtype=recipe.dtype,
                     compute_dtype=nf4_compute_dtype(recipe, cuda), double_quant=recipe.double_quant, device=device)
    estimate = estimate_model(source, plan)
    full_layers = estimate.full_layers
    prefixes = choose_prefixes(opts.prefixes, estimate.parameters, full_layers, cuda, CPU_PREFIXES)
    at_full = prefixes == (full_layers,)
    accumulation = recipe.gradient_accumulation_steps
    micro = accumulation if at_full else 1  # prefixes: one micro-batch per step (time is linear in them)
    plan = replace(plan, layers=max(prefixes))
    say(f"{spec.label}: recipe {recipe.name}, {steps} optimizer steps of {micro} micro-batch(es) of "
        f"{recipe.batch_size} x {recipe.max_length} tokens at "
        f"{'full depth' if at_full else 'layers ' + '/'.join(map(str, prefixes)) + f' of {full_layers}'} on {device}")

    tracker = MemoryTracker()
    tracker.start()
    t0 = time.perf_counter()
    built = build_random(source, plan)
    layers = list(built.layers())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        model = prepare_for_training(built.model, recipe)
    load_s = time.perf_counter() - t0
    total, trainable = count_parameters(model)
    layer_total, layer_trainable = count_parameters(layers[0])
    missing = full_layers - len(layers)
    total, trainable = total + missing * layer_total, trainable + missing * layer_trainable

    tuned = recipe.model_copy(update={"effective_batch_size": recipe.batch_size * micro, "max_steps": steps})
    samples: list[StepSample] = []
    losses: list[dict[str, float]] = []
    tokens_seen = 0
    work = Path(tempfile.mkdtemp(prefix="evalkit-projection-"))
    optimizer_note, optimizer_used = None, recipe.optimizer
    session_t = time.perf_counter()
    try:
        for k in prefixes:
            set_depth(built, layers, k)
            rows, loss_rows = _train_steps(model, tuned, work, precision, steps, micro, int(built.config.vocab_size),
                                           recipe.seed)
            optimizer_note = optimizer_note or rows["note"]
            optimizer_used = rows["optimizer"]
            for i, seconds in enumerate(rows["steps"], 1):
                samples.append(StepSample(layers=k, step=i, seconds=round(seconds, 4), micro_batches=micro))
            losses = loss_rows
            tokens_seen += steps * micro * recipe.batch_size * recipe.max_length
            say(f"  {k} layers: steps of {', '.join(f'{s:.1f}' for s in rows['steps'])} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        set_depth(built, layers, len(layers))
    session_s = time.perf_counter() - session_t
    peak = tracker.stop()

    skip = steps >= 3  # the first step allocates and warms kernels up
    per_k = {k: [s.seconds for s in samples if s.layers == k and (s.step > 1 or not skip)] for k in prefixes}
    fit = fit_layers(list(prefixes), [sum(v) / len(v) / micro for v in per_k.values()], full_layers)
    basis_layers = "" if at_full else f" at {'/'.join(map(str, prefixes))} of {full_layers} layers"
    basis = f"projected from {steps} steps{basis_layers}"
    micro_fig = Figure(value=fit.predicted_s, unit="s", error=fit.error_s, basis=basis)
    per_epoch = math.ceil(len(train_items) / recipe.batch_size)
    optimizer_steps = math.ceil(per_epoch * recipe.epochs / accumulation)

    def scaled(n: float) -> Figure:
        return Figure(value=fit.predicted_s * n, unit="s", error=None if fit.error_s is None else fit.error_s * n,
                      basis=basis)

    projected = scaled(per_epoch * recipe.epochs)
    notes = [f"every example padded to the recipe's max_length ({recipe.max_length} tokens): an upper bound, real "
             "batches are padded to their longest story",
             "the optimizer update is counted in each micro-batch's share of a step"]
    if not at_full:
        notes.append(f"steps ran {micro} micro-batch(es) (the recipe accumulates {accumulation}); a step's time is "
                     f"{accumulation} micro-batches")
    if peak.kind == "rss" and not at_full:
        notes.append(f"peak memory is that of the {max(prefixes)}-layer model, not the full depth")
    projection = TrainingProjection(
        basis=basis, steps=steps, skipped_first=skip, micro_batches_per_step=micro,
        recipe_micro_batches_per_step=accumulation, sequence_length=recipe.max_length, batch_size=recipe.batch_size,
        layers_measured=list(prefixes), full_layers=full_layers, micro_batch_s=micro_fig,
        step_s=scaled(accumulation), train_examples=len(train_items), epochs=recipe.epochs,
        micro_batches_per_epoch=per_epoch, optimizer_steps=optimizer_steps, epoch_s=scaled(per_epoch),
        projected_s=projected, projected_hours=(projected.value or 0) / 3600, fit=fit, samples=samples, notes=notes)
    fmt = recipe.format if recipe.format != "auto" else (
        "chat" if source.tokenizer_shape is not None and source.tokenizer_shape.chat_template else "plain")
    out.mkdir(parents=True, exist_ok=True)
    record = ProjectedTraining(
        identity=stable_hash({"base": source.config, "recipe": recipe.model_dump(mode="json"), "suite": suite.hash,
                              "random_weights": True}),
        recipe=recipe.name, recipe_file=str(recipe_file), method=recipe.method, output=str(out.resolve()),
        output_kind="adapter" if recipe.saves_adapter else "checkpoint", format=fmt,  # type: ignore[arg-type]
        hyperparameters={**recipe.model_dump(mode="json"), "gradient_accumulation_steps": accumulation,
                         "effective_batch_size": recipe.batch_size * accumulation, "precision": precision,
                         "optimizer_used": optimizer_used,
                         "optimizer_note": optimizer_note, "weights": "random"},
        base=BaseModelInfo(label=spec.label, source=str(spec.options.get("source")), resolved_path=source.origin,
                           fingerprint=stable_hash(source.config), parameters=total, trainable_parameters=trainable),
        suite=SuiteInfo(name=suite.name, path=str(suite.path.resolve()), hash=suite.hash, train_split=opts.train_split,
                        eval_split=None, n_train=len(train_items), n_eval=0,
                        train_tokens=len(train_items) * recipe.max_length,
                        train_story_tokens=len(train_items) * recipe.max_length),
        seed=recipe.seed, wall_time_s=round(session_s, 3), session_wall_s=round(session_s, 3), load_s=round(load_s, 3),
        global_step=steps, epochs=steps * micro * recipe.batch_size / len(train_items), tokens_seen=tokens_seen,
        peak_memory=peak, device=device_line(hardware()) if not cuda else f"cuda {torch.cuda.get_device_name(0)}",
        hardware=hardware(), libraries=library_versions(), train_loss=losses[-1]["loss"] if losses else None,
        loss_history=losses, evalkit_version=__version__, git_sha=git_sha(), command=sys.argv[:],
        projection=projection,
    )
    write_json(out / PROJECTION_FILE, record)
    del model, built, layers
    if cuda:
        torch.cuda.empty_cache()
    return record


def _train_steps(model: Any, recipe: Any, work: Path, precision: str, steps: int, micro: int, vocab: int,
                 seed: int) -> tuple[dict[str, Any], list[dict[str, float]]]:
    """Run ``steps`` optimizer steps of random full-length examples through the Trainer; seconds per step."""
    import torch
    from transformers import Trainer, TrainerCallback, default_data_collator
    from transformers import logging as hf_logging
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    hf_logging.set_verbosity_error()
    g = torch.Generator().manual_seed(seed)
    n = steps * micro * recipe.batch_size
    ids = torch.randint(0, vocab, (n, recipe.max_length), generator=g)
    data = [{"input_ids": row, "attention_mask": torch.ones_like(row), "labels": row.clone()} for row in ids]
    args = training_arguments(recipe, work, has_eval=False, precision=precision, resuming=False)
    args.save_strategy = "no"
    note = check_optimizer(args)

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.started = 0.0
            self.seconds: list[float] = []

        def on_step_begin(self, *a: Any, **kw: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, *a: Any, **kw: Any) -> None:
            self.seconds.append(time.perf_counter() - self.started)

    clock = StepClock()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message="Paged optimizers are not supported on CPU")
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=default_data_collator,
                          callbacks=[clock])
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        trainer.train()
    losses = [{"step": h["step"], "loss": float(h["loss"])} for h in trainer.state.log_history if "loss" in h]
    return {"steps": clock.seconds, "note": note, "optimizer": optim_name(args)}, losses
