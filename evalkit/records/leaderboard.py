"""leaderboard.json (``evalkit leaderboard -f json``)."""

from __future__ import annotations

from pydantic import Field

from evalkit.records.io import Number, WrittenRecord

LEADERBOARD_SCHEMA = "evalkit.leaderboard/1"


class LeaderboardCell(WrittenRecord):
    value: Number | None = Field(description="the row's value")
    stars: Number | None = Field(description="its stars")
    ci_low: Number | None = Field(description="lower end of its CI")
    ci_high: Number | None = Field(description="upper end of its CI")
    note: str | None = Field(description="why n/a, or a caveat")


class LeaderboardEntry(WrittenRecord):
    rank: int = Field(description="place by Overall Quality")
    model: str = Field(description="model label")
    run_id: str = Field(description="the run")
    created: str = Field(description="when the run was made")
    device: str = Field(description="the hardware, in words")
    overall: Number | None = Field(description="Overall Quality")
    overall_delta: Number | None = Field(description="change against the model's previous run")
    previous_run: str | None = Field(description="that previous run")
    cells: dict[str, LeaderboardCell] = Field(description="row -> cell")
    _omit_if_none = ("delta_significant", "delta_mde")
    delta_significant: bool | None = Field(None, description="the change is significant (cluster bootstrap over the "
                                           "items both runs share; None: not testable)")
    delta_mde: Number | None = Field(None, description="the smallest change that test could see (80% power)")


class LeaderboardGroup(WrittenRecord):
    suite: str = Field(description="suite name")
    split: str = Field(description="suite split")
    rows: list[str] = Field(description="the rating's rows, in order")
    units: dict[str, str] = Field(description="row -> unit text")
    entries: list[LeaderboardEntry] = Field(description="ranked rows of the table")


class LeaderboardSkip(WrittenRecord):
    run: str = Field(description="run folder name")
    reason: str = Field(description="why it was skipped")


class LeaderboardRecord(WrittenRecord):
    """leaderboard.json (``evalkit leaderboard -f json``)."""

    schema_: str = Field(LEADERBOARD_SCHEMA, alias="schema", description="record type and version")
    all_runs: bool = Field(description="every run of each model, not only its latest")
    groups: list[LeaderboardGroup] = Field(description="one table per suite and split")
    skipped: list[LeaderboardSkip] = Field(description="runs not trusted, and why")
