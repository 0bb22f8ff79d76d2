"""Several stories per suite item: the seed and the cache key of sample k, and the --samples check.

Sample 0 keeps the run's seed and today's cache key, so runs with one sample (and their caches) are
unchanged; sample k > 0 gets its own seed, derived from the run seed and k, and k in its key. Raising
N later finds samples 0..N-1 in the cache and generates only the new ones.
"""

from __future__ import annotations

from typing import Any

from evalkit.errors import EvalkitError
from evalkit.records import stable_hash

MAX_SEED = 2**31 - 1  # every backend takes a 31-bit seed (llama.cpp, OpenAI servers, torch)


def sample_seed(run_seed: int, sample: int) -> int:
    """The seed of sample ``sample``: the run seed for sample 0, else a stable hash of both."""
    if sample == 0:
        return run_seed
    return int(stable_hash({"seed": run_seed, "sample": sample}, 8), 16) % MAX_SEED


def sample_params(params: Any, sample: int) -> Any:
    """GenerationParams for sample ``sample`` (only the seed changes)."""
    return params.model_copy(update={"seed": sample_seed(params.seed, sample)})


def sample_generation_key(model_key: str, item: Any, params: Any, sample: int) -> str:
    """runner.generation_key for sample 0; the sample index joins the key after that.
    ``params`` are the run's parameters (this derives the sample's seed itself)."""
    key: dict[str, Any] = {"model": model_key, "item": item.content_hash(),
                           "params": sample_params(params, sample).cache_fields()}
    if sample:
        key["sample"] = sample
    return stable_hash(key, 24)


def parse_samples(value: Any, where: str = "--samples") -> int:
    """A positive whole number of samples, or one line of EvalkitError."""
    if isinstance(value, bool):
        raise EvalkitError(f"{where} must be a whole number >= 1, not {value!r}")
    try:
        n = int(str(value).strip())
    except ValueError:
        raise EvalkitError(f"{where} must be a whole number >= 1, not {value!r}") from None
    if n < 1:
        raise EvalkitError(f"{where} must be a whole number >= 1, not {n}")
    return n
