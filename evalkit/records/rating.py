"""rating.json: the star table's rows, their cells, tests and anchors."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from evalkit.records.io import Number, WrittenRecord

RATING_SCHEMA = "evalkit.rating/1"


class RatingCell(WrittenRecord):
    _omit_if_none = ("basis", "error")

    value: Number | None = Field(description="mean (or single measurement) in the row's unit")
    ci_low: Number | None = Field(description="lower end of the 95% CI of the mean (None: a single value)")
    ci_high: Number | None = Field(description="upper end of that CI")
    n: int = Field(description="stories (or measurements) behind the value")
    stars: Number | None = Field(description="shown stars, half steps 1-5 (None: not rated)")
    score: Number | None = Field(description="unrounded stars")
    note: str | None = Field(description="why a cell has no stars, or a caveat")
    basis: str | None = Field(None, description="how a random-weights figure was obtained: 'measured', 'estimated "
                              "from 1/2/3 of 32 layers', 'projected from 3 steps', 'computed from tensor sizes'")
    error: Number | None = Field(None, description="standard error of an estimated or projected value (the fit's)")


class RatingComparison(WrittenRecord):
    a: str = Field(description="first model")
    b: str = Field(description="second model")
    diff: Number = Field(description="mean of a - b in the row's unit")
    ci_low: Number | None = Field(description="lower end of the paired bootstrap CI (None: one value each)")
    ci_high: Number | None = Field(description="upper end of that CI")
    significant: bool = Field(description="the CI excludes 0 (or the margin rule holds for single values)")
    better: str | None = Field(description="the better model when significant")
    n: int = Field(description="paired items, the clusters (1 for single measurements)")
    _omit_if_none = ("p", "p_holm", "se", "mde", "n_samples", "items_to_resolve", "samples_to_resolve", "unit")
    p: Number | None = Field(None, description="two-sided cluster-bootstrap p-value (None: one value each)")
    p_holm: Number | None = Field(None, description="Holm-adjusted p over the row's pairs (more than two models)")
    se: Number | None = Field(None, description="bootstrap standard error of diff")
    mde: Number | None = Field(None, description="smallest |diff| the run detects with 80% power")
    n_samples: Number | None = Field(None, description="mean stories per item behind each item's mean")
    items_to_resolve: int | None = Field(None, description="items that would resolve |diff| (a tie only)")
    samples_to_resolve: int | None = Field(None, description="samples per item that would resolve |diff| (a tie only)")
    unit: str | None = Field(None, description="the unit of diff when it is not the row's (★: calibrated stars)")


class RatingCheck(WrittenRecord):
    """Do the suite's references beat their degenerate copies on the row's metric (paired over items)?"""

    informative: bool = Field(description="references significantly better than the degenerate copies")
    diff: Number | None = Field(description="mean over items of reference - degenerate copies, in the metric's unit")
    ci_low: Number | None = Field(description="lower end of the cluster-bootstrap CI of diff")
    ci_high: Number | None = Field(description="upper end of that CI")
    p: Number | None = Field(description="two-sided bootstrap p-value")
    n: int = Field(description="items with a reference and a degenerate value")
    reason: str = Field(description="the verdict in words")


class RatingRow(WrittenRecord):
    _omit_if_none = ("note", "stars_from", "check", "test", "mde", "per_item")

    row: str = Field(description="the seed's row name")
    kind: str = Field(description="quality, training, speed, memory or overall")
    metric: str | None = Field(description="the metric or measurement the row rates")
    unit: str = Field(description="the unit and direction, in words")
    direction: str = Field(description="higher or lower is better")
    models: dict[str, RatingCell] = Field(description="model label -> cell")
    note: str | None = Field(None, description="a caveat for the whole row")
    winner: str | None = Field(description="the model that beats every other, 'tie', or None (not compared)")
    comparisons: list[RatingComparison] = Field(description="every pair's test")
    ranking: list[str] = Field(description="models by significant wins minus losses")
    leaders: list[str] = Field(description="models no one beats")
    stars_from: str | None = Field(None, description="how the stars were given: calibration NAME, anchors, "
                                   "genre probability, cut points, quality rows")
    check: RatingCheck | None = Field(None, description="references vs degenerate copies (quality rows)")
    test: str | None = Field(None, description="the winner test in words: detectable difference, or why a tie")
    mde: Number | None = Field(None, description="the row's detectable difference (the largest over its pairs)")
    per_item: dict[str, dict[str, list[Number | None]]] | None = Field(
        None, description="Overall Quality only: model -> item -> each sample's stars, so the leaderboard can "
                          "test a change against an earlier run with the same clustered test")


class RatingAnchor(WrittenRecord):
    _omit_if_none = ("kinds", "degenerate", "note")

    one_star: Number | None = Field(description="the degenerate copies' mean (1 star)")
    five_star: Number | None = Field(description="the reference stories' mean (5 stars)")
    n: int = Field(description="reference stories with a value")
    kinds: list[str] | None = Field(None, description="the degenerate kinds averaged for one_star")
    degenerate: dict[str, Number] | None = Field(None, description="kind -> its mean")
    note: str | None = Field(None, description="why there is no anchor")


class Rating(WrittenRecord):
    """rating.json: the seed's eight rows with stars, winners and the anchors and rules that made them."""

    _omit_if_none = ("problems", "calibrations")

    schema_: str = Field(RATING_SCHEMA, alias="schema", description="record type and version")
    run_id: str = Field(description="the run")
    suite: str = Field(description="suite name")
    split: str = Field(description="suite split")
    created: str = Field(description="when the run was first rated (kept by later ratings)")
    device: str = Field(description="the hardware, in words")
    suite_hash: str = Field(description="hash of the suite version the run used")
    n_items: int = Field(description="suite items in the run")
    weights: dict[str, Number] = Field(description="quality row -> weight in Overall Quality")
    anchors: dict[str, RatingAnchor] = Field(description="metric -> its 1- and 5-star levels")
    models: list[str] = Field(description="model labels in run order")
    rules: dict[str, Any] = Field(description="the star rules in force (rating.toml merged with the suite's [rating])")
    rows: list[RatingRow] = Field(description="the eight rows, in the seed's order; then the Judge preference row "
                                              "when the run used a judge")
    problems: list[str] | None = Field(None, description="damaged score lines skipped")
    samples: int = Field(1, description="stories per item per model (the most any model has)")
    calibrations: dict[str, dict[str, Any]] | None = Field(None, description="metric -> the calibration its "
                                                           "stars came from: name, data, criterion, CV error")
