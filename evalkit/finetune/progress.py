"""Trainer callbacks: a rich progress bar (steps, loss, validation loss, ETA) and the clock that
stores the training time reached at each checkpoint, so a resumed training reports its whole time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from evalkit.finetune.record import FinetunePlan
from evalkit.records import write_json


class RichTrainProgress(TrainerCallback):
    def __init__(self, console: Any, label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console
        self.label = label
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
            TextColumn("loss {task.fields[loss]}"), TextColumn("val {task.fields[val]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
        )
        self.task: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=state.max_steps, completed=state.global_step,
                                           loss="-", val="-")
        if state.global_step:
            self.console.print(f"resumed at step {state.global_step} of {state.max_steps}")

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        logs = logs or {}
        if self.task is None:
            return
        if "loss" in logs:
            self.progress.update(self.task, loss=f"{float(logs['loss']):.3f}")
        if "eval_loss" in logs:
            self.progress.update(self.task, val=f"{float(logs['eval_loss']):.3f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.progress.update(self.task, completed=state.global_step)
        self.progress.stop()


class CheckpointClock(TrainerCallback):
    """Training time so far, stored in the plan for each checkpoint. Written when the step that will
    save ends (the Trainer writes the checkpoint right after), because a kill can land between the
    checkpoint and the Trainer's on_save."""

    def __init__(self, plan: FinetunePlan, plan_path: Path, prior_s: float) -> None:
        self.plan, self.plan_path, self.prior_s = plan, plan_path, prior_s
        self.started: float | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return self.prior_s + (time.perf_counter() - self.started if self.started else 0.0)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if control.should_save:  # set by the Trainer's flow callback, which runs before this one
            self.plan.checkpoint_wall_s[f"checkpoint-{state.global_step}"] = round(self.elapsed(), 3)
            write_json(self.plan_path, self.plan)

    on_epoch_end = on_step_end  # epoch-cadence saves are decided at the epoch's end
