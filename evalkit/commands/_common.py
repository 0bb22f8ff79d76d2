"""Option parsing shared by commands that run models (compare, regress)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from evalkit.errors import EvalkitError
from evalkit.judge.judge import configure_judge
from evalkit.profiles import read_profile
from evalkit.scorers.judge import judge_defence, judge_rubrics
from evalkit.scorers.lm import resolve_reader
from evalkit.scoring import load_scorers


def parse_value(text: str) -> Any:
    """TOML-ish scalars: true/false, ints, floats, else the string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_model_options(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``-o MODEL.KEY=VALUE`` -> {MODEL: {KEY: VALUE}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, eq, value = item.partition("=")
        model, dot, key = target.rpartition(".")
        if not eq or not dot or not model or not key:
            raise EvalkitError(f"bad option {item!r}: write MODEL.KEY=VALUE, e.g. llama3-qlora.adapter=./my-adapter")
        out.setdefault(model, {})[key] = parse_value(value)
    return out


def generation_options(f: Any) -> Any:
    for opt in reversed([
        click.option("--max-new-tokens", type=click.IntRange(1), help="Tokens per story (default: the suite's)."),
        click.option("--batch-size", type=click.IntRange(1), help="Stories per generate call."),
        click.option("--seed", type=int, help="Sampling seed."),
        click.option("--temperature", type=click.FloatRange(0), help="Sampling temperature."),
        click.option("--greedy", is_flag=True, help="Greedy decoding instead of sampling."),
    ]):
        f = opt(f)
    return f


def params_from(kwargs: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in ("max_new_tokens", "batch_size", "seed", "temperature"):
        if kwargs.get(key) is not None:
            params[key] = kwargs[key]
    if kwargs.get("greedy"):
        params["do_sample"] = False
    return params


def split_csv(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def judge_context(context: Any, scorers: list[Any], judge: str, models_file: str | None,
                  cache_dir: Any, rubrics: list[str] | None = None) -> list[Any]:
    """Configure ``--judge MODEL`` on a ScoringContext (loaded now: exit 2 before any scoring when it
    cannot run; judge calls cached under ``cache_dir``/judge/, None: no cache; ``rubrics``: only these)
    and return the scorers with the judge scorer among them."""
    context.options.update(judge=judge, models_file=models_file, judge_cache_dir=cache_dir, judge_rubrics=rubrics)
    judge_rubrics(context)  # an unknown rubric name or injection mode fails before the judge loads
    judge_defence(context)
    context.shared["judge"] = configure_judge(judge, models_file, cache_dir=cache_dir)
    return scorers if any(s.name == "judge" for s in scorers) else [*scorers, *load_scorers(["judge"])]


def scoring_lm_options(arg: str | None, models_file: str | None) -> dict[str, Any] | None:
    """ScoringContext options for ``--scoring-lm MODEL_OR_PROFILE`` (None without it: the default reader
    and the shipped calibration); says on stderr which profile makes the coherence stars, or that none does."""
    if not arg:
        return None
    opts, note = resolve_reader(arg, models_file)
    if note:
        click.echo(f"warning: {note}", err=True)
    elif opts.get("profile"):
        click.echo(f"coherence: {read_profile(opts['profile']).summary()}", err=True)
    return {"lm": opts}
