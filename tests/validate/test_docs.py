"""docs/metrics.md rendering: headline figures are the cross-validated ones, in-sample ones are labelled."""

from __future__ import annotations

import sys
from pathlib import Path

from validate_helpers import write_ratings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from planted import Planted  # noqa: E402

from evalkit.scorers.base import ScoringContext  # noqa: E402
from evalkit.validate.docs import render  # noqa: E402
from evalkit.validate.pipeline import validate  # noqa: E402
from evalkit.validate.ratings import load_ratings  # noqa: E402


class PlantedCoherence(Planted):
    """Planted: a coherence whose shipped weights were fitted on ratings.csv."""

    name = "coherence"
    fitted_on = "ratings.csv"


def test_docs_headline_is_cross_validated_and_in_sample_is_labelled(tmp_path: Path):
    table = load_ratings(write_ratings(tmp_path / "ratings.csv"))
    scorer = PlantedCoherence()
    rec, _ = validate(table, [scorer], ScoringContext(), None, boot=50, cv=4)
    md = render(rec, [scorer], {}, None)
    assert md.startswith("# Scorer validation") and "Do not edit by hand" in md
    summary = md.split("## What each score means")[0]
    assert "cross-validated ridge of its parts" in summary  # the headline row is the CV fit
    assert "planted (in-sample)" in md and "cv:coherence:Coherence (cross-validated)" in md
    assert "Not measured by this generator" in md  # no genre section provided
    genre = render(rec, [scorer], {}, "## Genre adherence\n\nfrom the genre code\n")
    assert "from the genre code" in genre
