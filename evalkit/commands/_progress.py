"""Rich progress bars: for a run, one bar per model with stories done, tokens/s and ETA; for long
scoring (`evalkit score`, `evalkit validate`), one bar with stories done, stories/s and ETA."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from evalkit.generate import RunProgress


class RichProgress(RunProgress):
    def __init__(self, console: Any) -> None:
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


@contextmanager
def scoring_bar(total: int, description: str = "scoring", console: Any = None) -> Iterator[Callable[[int], None] | None]:
    """A rich bar on stderr for long scoring (stories done, stories/s, ETA), yielding ``advance(n)``;
    yields None (no bar, nothing written) when stderr is not a terminal: pipes, files, tests."""
    if console is None:
        if not sys.stderr.isatty():
            yield None
            return

        console = Console(stderr=True)

    class StoriesPerSecond(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} stories/s" if speed else "- stories/s")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), StoriesPerSecond(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
