"""The stored records of capacity measurements (random weights at a model's real shape): what was
measured, what was estimated from layer prefixes, how, and with what error."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from evalkit.records.io import WrittenRecord, utcnow
from evalkit.records.run import Manifest, MemoryReading, TrainingRecord

CAPACITY_SCHEMA = "evalkit.capacity/1"
CAPACITY_RUN_SCHEMA = "evalkit.capacity-run/1"


def random_weights_run(manifest: Manifest) -> bool:
    """A run of models at their real shapes with random weights (`compare --random-weights`): measured,
    rated on speed, memory and training time, no stories."""
    return bool(manifest.models) and all((m.spec.get("options") or {}).get("weights") == "random"
                                         for m in manifest.models)


class LayerFit(WrittenRecord):
    """seconds = intercept + slope * layers over measured layer prefixes, predicted at full depth."""

    layers: list[int] = Field(description="decoder layers of each measurement")
    seconds: list[float] = Field(description="the measured seconds, one per entry of layers")
    full_layers: int = Field(description="the configuration's decoder layers (where the fit is read)")
    slope_s: float | None = Field(description="seconds per decoder layer (None: measured at full depth only)")
    intercept_s: float | None = Field(description="seconds of everything outside the decoder layers")
    predicted_s: float = Field(description="seconds at full depth (the measurement itself when taken there)")
    error_s: float | None = Field(description="standard error of predicted_s from the fit's residuals "
                                              "(None: fewer than three layer counts, or measured)")
    r2: float | None = Field(description="coefficient of determination of the fit")


class Figure(WrittenRecord):
    """One capacity figure and how it was obtained."""

    value: float | None = Field(description="the figure (None: not obtainable here)")
    unit: str = Field(description="s, tokens/s, bytes, …")
    basis: str = Field(description="'measured', 'estimated from 1/2/3 of 32 layers', 'computed from tensor sizes', …")
    error: float | None = Field(None, description="standard error in the same unit (estimates from three or more "
                                                  "layer counts); None where measured or not estimable")

    @property
    def measured(self) -> bool:
        return self.basis == "measured"

    def text(self, fmt: str = "{:.3g}") -> str:
        if self.value is None:
            return "n/a"
        out = fmt.format(self.value) + (f" {self.unit}" if self.unit else "")
        if self.error is not None:
            out += f" ± {fmt.format(self.error)}"
        return out if self.measured else f"{out} ({self.basis})"


class TimingSample(WrittenRecord):
    """One timed generate call at a layer prefix."""

    layers: int = Field(description="decoder layers run")
    batch: int = Field(description="sequences in the call")
    prompt_tokens: list[int] = Field(description="prompt length of each sequence (left-padded to the longest)")
    new_tokens: int = Field(description="tokens generated per sequence (forced: no early stop)")
    ttft_s: float = Field(description="seconds to the first generated token (prefill + one step)")
    total_s: float = Field(description="seconds of the whole call")
    step_s: float | None = Field(description="seconds per decode step after the first token (None: one token)")
    warmup_s: float | None = Field(None, description="seconds of an untimed first call at this depth (4-bit "
                                                     "weights are repacked for the CPU kernel on first use)")


class PromptLengths(WrittenRecord):
    """The suite prompts' token counts used for timing (random ids of these lengths)."""

    format: Literal["chat", "plain"] = Field(description="how the model is prompted (chat template or plain)")
    counted_by: str = Field(description="the real tokenizer (a path), or the pre-token estimate and why")
    exact: bool = Field(description="true when counted by the model's own tokenizer")
    split: str = Field(description="suite split the prompts come from")
    lengths: dict[str, int] = Field(description="item id -> prompt tokens")
    batch1_item: str = Field(description="the item timed at batch 1 (the median length)")


class AdapterShape(WrittenRecord):
    """The LoRA adapter a random model carried."""

    recipe: str = Field(description="the recipe whose LoRA settings were used")
    r: int = Field(description="LoRA rank")
    alpha: int = Field(description="LoRA alpha")
    dropout: float = Field(description="LoRA dropout")
    target_modules: list[str] | str = Field(description="the wrapped projections")
    parameters: int = Field(description="adapter parameters at full depth")


class CapacityMemory(WrittenRecord):
    """Memory of the model at full depth."""

    how: Literal["measured", "computed"] = Field(description="measured: the full model was built here; computed: "
                                                            "from the built layers' tensor sizes (not enough RAM)")
    bytes_in_memory: int = Field(description="bytes of the model's tensors at full depth (4-bit states included)")
    peak: MemoryReading | None = Field(description="peak memory over build and timing (CUDA peak or process RSS)")
    peak_added_bytes: int | None = Field(description="peak minus the baseline before building (what the model added)")
    needed_bytes: int = Field(description="the estimate of the full model's size that decided whether to build it")
    available_bytes: int | None = Field(description="memory the build could use (available RAM or the limit)")
    note: str | None = Field(None, description="why memory was computed, or what the peak includes")


class CapacityRecord(WrittenRecord):
    """results/capacity/<label>.json: a model measured at its real shape with random weights."""

    schema_: str = Field(CAPACITY_SCHEMA, alias="schema", description="record type and version")
    label: str = Field(description="the model's label")
    spec: dict[str, Any] = Field(description="the resolved model spec (backend, options)")
    source: str = Field(description="the hub id or folder whose configuration was used")
    shape_origin: str = Field(description="where the configuration came from (shipped shape file, folder, cache)")
    model_type: str = Field(description="transformers model_type")
    full_layers: int = Field(description="decoder layers of the real model")
    hidden_size: int | None = Field(description="hidden width")
    vocab_size: int = Field(description="the model's vocabulary (embedding rows)")
    tokenizer_vocab_size: int | None = Field(description="the tokenizer's vocabulary size (None: unknown)")
    quantization: str | None = Field(description="nf4, or None for full precision")
    dtype: str = Field(description="dtype of the unquantized weights")
    compute_dtype: str | None = Field(description="4-bit compute dtype")
    double_quant: bool | None = Field(description="4-bit quantization constants quantized too")
    adapter: AdapterShape | None = Field(description="the LoRA adapter it carried (None: none)")
    device: str = Field(description="the hardware, in words")
    hardware: dict[str, Any] = Field(description="the machine")
    libraries: dict[str, str] = Field(description="library versions")
    threads: int = Field(description="torch CPU threads")
    load_average: list[float] = Field(description="1-minute load average at the start and at the end")
    parameters: int = Field(description="base model parameters at full depth (4-bit weights count two per byte)")
    adapter_parameters: int = Field(description="adapter parameters at full depth")
    basis: str = Field(description="'measured at full depth' or 'estimated from 1/2/3 of 32 layers'")
    layers_measured: list[int] = Field(description="the layer prefixes timed")
    quantized_layers: int = Field(description="layers built from random values (the rest: copies of their tensors)")
    load_s: Figure = Field(description="seconds to build (materialise + quantize + wrap) the full model")
    memory: CapacityMemory = Field(description="memory at full depth")
    prompts: PromptLengths = Field(description="prompt lengths used")
    max_new_tokens: int = Field(description="the suite's token budget per story")
    batch_size: int = Field(description="the run's batch size used for the batched figures")
    measure_tokens: list[int] = Field(description="tokens generated per timed call at batch 1 and at batch_size")
    ttft_s: Figure = Field(description="time to first token at batch 1")
    ttft_batch_s: Figure = Field(description="time to first token of a batch of batch_size")
    tokens_per_s: Figure = Field(description="decode tokens per second at batch 1")
    tokens_per_s_batch: Figure = Field(description="decode tokens per second over a batch of batch_size")
    seconds_per_story_b1: Figure = Field(description="seconds per story at batch 1: ttft + (budget-1) steps")
    seconds_per_story: Figure = Field(description="seconds per story at batch_size (a batch's time shared by its "
                                                  "stories, as the Inference Speed row counts it)")
    fits: dict[str, LayerFit] = Field(description="name -> layer fit (load, ttft_b1, step_b1, ttft_batch, step_batch)")
    samples: list[TimingSample] = Field(description="every timed call")
    notes: list[str] = Field(default_factory=list, description="assumptions behind the figures")
    wall_s: float = Field(description="seconds the whole measurement took")
    evalkit_version: str = Field(description="evalkit version")
    git_sha: str | None = Field(None, description="evalkit's git commit")
    command: list[str] = Field(default_factory=list, description="the command line")
    created: str = Field(default_factory=utcnow, description="when the record was written")

    def measurements(self) -> dict[str, Any]:
        """The star table's inputs, keyed as summary.json's measurements (peak_memory_gb: what the model
        added; computed memory when it was not built) plus seconds_per_story and how each was obtained."""
        mem = self.memory
        if mem.how == "measured" and mem.peak_added_bytes is not None:
            peak_gb, kind = mem.peak_added_bytes / 1e9, mem.peak.kind if mem.peak else "rss"
        else:
            peak_gb, kind = mem.bytes_in_memory / 1e9, "computed"
        return {"load_s": self.load_s.value, "peak_memory_gb": peak_gb, "memory_kind": kind,
                "seconds_per_story": self.seconds_per_story.value, "seconds_per_story_error": self.seconds_per_story.error,
                "seconds_per_story_basis": self.seconds_per_story.basis,
                "tokens_per_s": self.tokens_per_s.value, "ttft_s": self.ttft_s.value, "basis": self.basis,
                "memory_basis": "measured" if kind != "computed" else "computed from tensor sizes",
                "device": self.device}


class StepSample(WrittenRecord):
    """One timed optimizer step of a projection."""

    layers: int = Field(description="decoder layers run")
    step: int = Field(description="1-based step at this depth")
    seconds: float = Field(description="seconds of the optimizer step (its micro-batches and the update)")
    micro_batches: int = Field(description="micro-batches in the step")


class TrainingProjection(WrittenRecord):
    """Training time of a recipe on the seed's data, projected from a few real optimizer steps at the real
    shape with random weights."""

    basis: str = Field(description="'projected from N steps' and, where used, the layer prefixes")
    steps: int = Field(description="optimizer steps timed at each depth")
    skipped_first: bool = Field(description="the first step (allocations, kernel warm-up) was left out of the mean")
    micro_batches_per_step: int = Field(description="micro-batches per timed step")
    recipe_micro_batches_per_step: int = Field(description="the recipe's gradient accumulation")
    sequence_length: int = Field(description="tokens per example (the recipe's max_length: every example padded to it)")
    batch_size: int = Field(description="examples per micro-batch (the recipe's)")
    layers_measured: list[int] = Field(description="decoder layers of the timed steps")
    full_layers: int = Field(description="the model's decoder layers")
    micro_batch_s: Figure = Field(description="seconds per micro-batch at full depth")
    step_s: Figure = Field(description="seconds per recipe optimizer step at full depth")
    train_examples: int = Field(description="training examples of the projection (the suite's train split)")
    epochs: float = Field(description="the recipe's epochs")
    micro_batches_per_epoch: int = Field(description="ceil(train_examples / batch_size)")
    optimizer_steps: int = Field(description="optimizer steps of the whole training")
    epoch_s: Figure = Field(description="projected seconds for one epoch")
    projected_s: Figure = Field(description="projected seconds for the whole training (all epochs)")
    projected_hours: float | None = Field(description="projected_s in hours (the Training Time row's unit)")
    fit: LayerFit = Field(description="micro-batch seconds against layers")
    samples: list[StepSample] = Field(description="every timed step")
    notes: list[str] = Field(default_factory=list, description="assumptions behind the projection")


class ProjectedTraining(TrainingRecord):
    """training_projection.json (`evalkit finetune --random-weights`): the training record of a few real
    optimizer steps at the model's real shape with random weights (wall_time_s: those steps, measured),
    and the projected time of the whole training."""

    projection: TrainingProjection = Field(description="the whole training's time projected from the timed steps")


class CapacityTraining(WrittenRecord):
    """The Training Time figure of a random-weights run: a finetune projection found for the model."""

    path: str = Field(description="the training_projection.json it was read from")
    recipe: str = Field(description="the recipe whose steps were timed")
    device: str = Field(description="the hardware the steps ran on, in words")
    projection: TrainingProjection = Field(description="the projected training time and how it was obtained")

    @property
    def hours(self) -> Figure:
        p = self.projection.projected_s
        return Figure(value=None if p.value is None else p.value / 3600, unit="h", basis=p.basis,
                      error=None if p.error is None else p.error / 3600)


class CapacityRun(WrittenRecord):
    """capacity.json of a random-weights run (`evalkit compare --random-weights`): each model measured at
    its real shape, and the training projection its Training Time row reads (none: the row is n/a)."""

    schema_: str = Field(CAPACITY_RUN_SCHEMA, alias="schema", description="record type and version")
    models: dict[str, CapacityRecord] = Field(default_factory=dict, description="model label -> its measurement")
    training: dict[str, CapacityTraining] = Field(default_factory=dict,
                                                  description="model label -> its training projection")
    training_searched: dict[str, str] = Field(default_factory=dict, description="model label -> where a training "
                                              "projection was looked for and not found")

    def measurements(self, label: str) -> dict[str, Any]:
        """The star table's inputs of one model (CapacityRecord.measurements plus training time), with the
        basis and error of each figure beside it."""
        rec = self.models.get(label)
        if rec is None:
            return {"weights": "random"}
        out = {**rec.measurements(), "weights": "random"}
        t = self.training.get(label)
        hours = t.hours if t is not None else None
        out.update(training_hours=hours.value if hours else None, training_error=hours.error if hours else None,
                   training_basis=hours.basis if hours else None)
        return out
