"""Rich progress bars for a run: one bar per model with stories done, tokens/s and ETA."""

from __future__ import annotations

from typing import Any

from evalkit.runner import RunProgress


class RichProgress(RunProgress):
    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console, transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.tokens: dict[str, tuple[int, float]] = {}

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def model_start(self, label: str, total: int, cached: int) -> None:
        note = f" ({cached} cached)" if cached else ""
        self.tasks[label] = self.progress.add_task(f"{label}{note}", total=total, completed=cached, rate="")
        self.tokens[label] = (0, 0.0)

    def model_loaded(self, label: str, load_s: float) -> None:
        self.progress.console.print(f"{label}: loaded in {load_s:.1f} s")

    def advance(self, label: str, n: int, tokens: int, seconds: float) -> None:
        t, s = self.tokens[label]
        t, s = t + tokens, s + seconds
        self.tokens[label] = (t, s)
        self.progress.update(self.tasks[label], advance=n, rate=f"{t / s:.1f} tok/s" if s else "")

    def model_done(self, label: str) -> None:
        task = self.tasks.get(label)
        if task is not None:
            self.progress.update(task, completed=self.progress.tasks[task].total)

    def stage(self, text: str) -> None:
        self.progress.console.print(f"{text}…")
