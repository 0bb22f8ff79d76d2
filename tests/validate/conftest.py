"""Fixtures of the validate tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from validate_helpers import write_ratings


@pytest.fixture()
def ratings_csv(tmp_path: Path) -> Path:
    return write_ratings(tmp_path / "ratings.csv")
