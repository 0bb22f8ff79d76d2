"""The tables `evalkit compare` and `evalkit report` print: stars with the winner, then the numbers.

Labels and notes are passed to rich as Text, never as markup, so a model called "[red]x" prints as is.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from evalkit.records import Rating
from evalkit.report.text import (
    comparison_text,
    method_text,
    not_informative,
    star_cell_text,
    value_text,
    weights_text,
    winner_text,
)


def print_tables(console: Any, rating: Rating) -> None:
    models = list(rating.models)
    rows = rating.rows
    stars = Table(title=Text(f"{rating.suite} · split {rating.split} · run {rating.run_id}"),
                  title_justify="left")
    stars.add_column("Metric", style="bold")
    for m in models:
        stars.add_column(Text(m), justify="left")
    stars.add_column("Winner")
    for row in rows:
        win = winner_text(row)
        style = "bold green" if win not in ("n/a", "tie") and row.kind == "overall" else None
        stars.add_row(Text(row.row), *(Text(star_cell_text(row, row.models.get(m)), style="yellow")
                                          for m in models), Text(win, style=style or ""))
    console.print(stars)

    numbers = Table(title=Text("Numbers: mean per story [95% CI]; memory and training time are one value per model"),
                    title_justify="left")
    numbers.add_column("Metric")
    numbers.add_column("Unit", style="dim")
    for m in models:
        numbers.add_column(Text(m))
    numbers.add_column(Text(f"{models[0]} − {models[1]} [95% CI]" if len(models) == 2 else "Differences [95% CI]"))
    for row in rows:
        diff = "\n".join((f"{c.a} − {c.b}: " if len(models) > 2 else "") + comparison_text(c)
                         + (" *" if c.significant else "") for c in row.comparisons) or "n/a"
        numbers.add_row(Text(row.row), Text(str(row.unit or "")),
                        *(Text(value_text(row.models.get(m))) for m in models), Text(diff))
    console.print(numbers)
    for row in rows:  # what each row's test could see, and why a row has no stars
        why = method_text(row, rating) if (row.test or not_informative(row)) else ""
        if why:
            console.print(Text(f"{row.row}: {why}", style="dim"))
    console.print(Text(
        "* significant at 95% (cluster bootstrap over suite items; memory and training time: a relative margin, no test). "
        f"Weights: {weights_text(rating)} · "
        f"device: {rating.device or 'unknown'} · suite: {rating.suite} ({rating.split})",
        style="dim"))
