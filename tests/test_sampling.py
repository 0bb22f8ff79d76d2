"""Seeds and cache keys of several samples per item."""

import pytest

from evalkit.errors import EvalkitError
from evalkit.records import GenerationParams
from evalkit.generate import generation_key
from evalkit.sampling import parse_samples, sample_generation_key, sample_params, sample_seed
from evalkit.suites import load_suite


def test_sample_zero_keeps_the_run_seed_and_todays_cache_key():
    item = load_suite("smoke").items[0]
    params = GenerationParams(seed=1234)
    assert sample_seed(1234, 0) == 1234
    assert sample_generation_key("m", item, params, 0) == generation_key("m", item, params)


def test_seeds_differ_across_samples_and_are_reproducible():
    seeds = [sample_seed(1234, k) for k in range(50)]
    assert len(set(seeds)) == 50
    assert seeds == [sample_seed(1234, k) for k in range(50)]
    assert sample_seed(1235, 3) != sample_seed(1234, 3)
    assert all(0 <= s < 2**31 for s in seeds)
    assert sample_params(GenerationParams(seed=1234), 2).seed == seeds[2]


def test_cache_keys_differ_per_sample_so_raising_n_finds_the_old_ones():
    item = load_suite("smoke").items[0]
    params = GenerationParams(seed=7)
    two = [sample_generation_key("m", item, params, k) for k in range(2)]
    three = [sample_generation_key("m", item, params, k) for k in range(3)]
    assert three[:2] == two and len(set(three)) == 3


@pytest.mark.parametrize("value", [0, -1, "2.5", "two", True, None])
def test_bad_sample_counts_are_refused(value):
    with pytest.raises(EvalkitError, match="--samples must be a whole number >= 1"):
        parse_samples(value)


def test_good_sample_counts_parse():
    assert parse_samples("3") == 3 and parse_samples(1) == 1
