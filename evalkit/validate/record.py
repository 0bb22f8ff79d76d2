"""validation.json: the stored result of ``evalkit validate`` (pydantic records, one description per field)."""

from __future__ import annotations

from pydantic import Field

from evalkit.records import Record

VALIDATION_SCHEMA = "evalkit.validation/1"


class Estimate(Record):
    """A statistic and its bootstrap 95% interval over groups (prompts)."""

    value: float | None = Field(description="the statistic on the data as it is; null = undefined (too few pairs, constant values)")
    low: float | None = Field(None, description="2.5th percentile of the group bootstrap")
    high: float | None = Field(None, description="97.5th percentile of the group bootstrap")


class Agreement(Record):
    """How one metric agrees with one human criterion on one set of systems."""

    n_stories: int = Field(description="stories with both a metric value and a rating")
    n_groups: int = Field(description="groups (prompts) among them")
    n_systems: int = Field(description="systems among them")
    pooled_tau: Estimate = Field(description="story level, HANNA's convention: Kendall tau-b over all the stories pooled")
    group_tau: Estimate = Field(description="story level, per group: Kendall tau-b within each group, averaged over groups")
    system_tau: Estimate = Field(description="system level: Kendall tau-b between the systems' mean metric and mean rating")
    pooled_spearman: Estimate = Field(description="Spearman rho over all the stories pooled")
    group_spearman: Estimate = Field(description="Spearman rho within each group, averaged over groups")
    system_spearman: Estimate = Field(description="Spearman rho between the systems' means")
    pooled_tau_length_partialled: Estimate | None = Field(
        None, description="pooled Kendall tau with story length in words partialled out (partial tau)")


class MetricResult(Record):
    """One metric against one criterion: without the human-written system and with it."""

    metric: str = Field(description="metric name (a scorer's metric, or cv:<combination> for a cross-validated fit)")
    criterion: str = Field(description="the human rating column")
    direction: str = Field(description="which way the metric is better: higher, lower, target, none")
    machine: Agreement = Field(description="over the machine-written stories only (HANNA's convention)")
    with_human: Agreement | None = Field(None, description="over every story, the human-written system included")
    human_rank: int | None = Field(None, description="rank of the human system's mean metric among all systems (1 = best by the metric's direction)")
    people_rank_human: int | None = Field(None, description="rank of the human system by people's mean rating (1 = best)")
    cross_validated: bool = Field(False, description="true when the metric is the out-of-fold prediction of a fitted combination")
    in_sample: bool = Field(False, description="true when the metric's shipped weights were fitted on this same ratings file (optimistic)")


class FittedCombination(Record):
    """A ridge combination of metrics fitted to one criterion with grouped cross-validation."""

    name: str = Field(description="cv:<scorer or set>:<criterion>")
    criterion: str = Field(description="the rating it was fitted to")
    features: list[str] = Field(description="the metrics combined")
    folds: int = Field(description="K of the GroupKFold over groups (prompts)")
    alphas: list[float] = Field(description="ridge penalty chosen inside each outer fold (inner grouped CV)")
    configurations: int = Field(5, description="configurations (parts x ridge penalty) the inner grouped CV of "
                                "each outer fold chose among; records before nested part choice chose among 5 penalties")
    chosen: list[str] = Field(default_factory=list, description="the configuration each outer fold chose, in words")
    full_fit_alpha: float = Field(description="ridge penalty chosen by grouped CV on all the data (for shipping)")
    full_fit_config: str = Field("", description="the configuration grouped CV chose on all the data (for shipping)")
    full_fit_weights: dict[str, float] = Field(description="weights per standardized feature of the refit on all the data (in-sample; its figures are never the headline)")
    full_fit_means: dict[str, float] = Field(description="feature means used to standardize (and impute) in the refit")
    full_fit_sds: dict[str, float] = Field(description="feature sds used to standardize in the refit")
    full_fit_scale: float = Field(1.0, description="sd of the refit's linear part over the fitted stories (a shipped score divides by it)")


class ValidationRecord(Record):
    """The whole result of one ``evalkit validate``."""

    schema_: str = Field(VALIDATION_SCHEMA, alias="schema", description="record format")
    source: str = Field(description="the ratings file")
    n_stories: int = Field(description="rows in the ratings file")
    n_groups: int = Field(description="groups (prompts)")
    systems: list[str] = Field(description="systems in the file")
    human_system: str | None = Field(description="the system marked human-written, if any")
    criteria: list[str] = Field(description="the rating columns")
    scorers: dict[str, str] = Field(description="scorer name -> its cache identity (version, LM)")
    bootstrap: int = Field(description="bootstrap resamples of groups")
    seed: int = Field(description="bootstrap seed")
    cv_folds: int | None = Field(None, description="K of the grouped cross-validation, when run")
    results: list[MetricResult] = Field(description="every metric x criterion")
    fitted: list[FittedCombination] = Field(default_factory=list, description="combinations fitted with grouped CV")
    scoring_s: float = Field(description="wall seconds spent scoring (cache lookups included)")
    statistics_s: float = Field(0.0, description="wall seconds spent on statistics and cross-validation")
    cache_dir: str | None = Field(None, description="the score cache used")
    created: str = Field(description="UTC time of the run")
