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
    in_sample_row = next(line for line in md.splitlines() if line.startswith("| planted (in-sample)"))
    assert "not reported" in in_sample_row and "+" not in in_sample_row  # no in-sample figure anywhere
    # three parts: all of them or each left out, times 5 penalties, chosen inside each of the 4 outer folds
    fit = next(f for f in rec.fitted if f.name == "cv:coherence:Coherence")
    assert fit.configurations == 20 and len(fit.chosen) == 4
    assert f"| cv:coherence:Coherence | 20 | {fit.chosen[0]}" in md
    assert "## How many configurations were tried" in md and "| coherence order reader | 7 |" in md
    assert "Not measured by this generator" in md  # no genre section provided
    genre = render(rec, [scorer], {}, "## Genre adherence\n\nfrom the genre code\n")
    assert "from the genre code" in genre


def test_only_a_scorers_fitted_mix_is_labelled_in_sample(tmp_path: Path):
    """A scorer's measured parts are not fitted to the ratings: only its derived mix is in-sample."""

    class PlantedMix(PlantedCoherence):
        derived = ("planted",)

    table = load_ratings(write_ratings(tmp_path / "ratings.csv"))
    rec, _ = validate(table, [PlantedMix()], ScoringContext(), None, boot=20)
    in_sample = {r.metric for r in rec.results if r.in_sample}
    assert in_sample == {"planted"}


def test_stored_inputs_render_the_same_docs(tmp_path: Path, monkeypatch):
    """write_docs stores every number next to the Markdown; render_stored rebuilds the same file from it."""
    import evalkit.validate.docs as docs

    table = load_ratings(write_ratings(tmp_path / "ratings.csv"))
    scorer = PlantedCoherence()
    rec, _ = validate(table, [scorer], ScoringContext(), None, boot=50, cv=4)
    checks = {"roc": {"coherence": {"n": 10, "accuracy": 0.9, "lo": 0.6, "hi": 0.98, "ties": 0}},
              "dose": {"seq_rep_4": {("Aesop", "tail"): {"story_spearman": 0.99, "corpus_spearman": 1.0,
                                                         "means": [0.0, 0.2]}}}}
    monkeypatch.setattr(docs, "run_checks", lambda *a, **k: checks)
    monkeypatch.setattr(docs, "_genre_section", lambda context: None)
    out = tmp_path / "metrics.md"
    docs.write_docs(out, rec, [scorer], ScoringContext(), None)
    md = out.read_text(encoding="utf-8")
    assert md == docs.render(rec, [scorer], checks, None)  # nothing lost on the way through the file
    assert docs.render_stored(docs.stored_path(out)) == md
    assert "| seq_rep_4 | Aesop | tail | 0.990 |" in md and "90.0%" in md


def test_docs_metrics_md_is_what_the_generator_writes():
    """docs/metrics.md is render_stored(docs/metrics.json): a hand edit, a changed scorer docstring or a
    changed generator without `evalkit validate ... --docs docs/metrics.md` fails here."""
    from evalkit.validate.docs import render_stored

    repo = Path(__file__).resolve().parents[2]
    md = (repo / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert render_stored(repo / "docs" / "metrics.json") == md, (
        "docs/metrics.md is stale: regenerate it with `evalkit validate ../shared/validation/hanna_dev.csv --cv 5 "
        "--docs docs/metrics.md` (or re-render the stored figures: python -m evalkit.validate.docs)")
