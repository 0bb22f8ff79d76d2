"""A real evaluate metric module written to a local folder and loaded by evaluate (no hub)."""

import pytest

from evalkit.errors import EvalkitError
from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.evaluate_adapter import EvaluateScorer, evaluate_scorer_class

METRIC = '''
import datasets
import evaluate


class WordOverlap(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="share of prediction words found in the reference", citation="", inputs_description="",
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        p, r = predictions[0].lower().split(), set(references[0].lower().split())
        if not p:
            raise ValueError("empty prediction")
        return {"overlap": sum(w in r for w in p) / len(p), "n_words": len(p), "label": "text is ignored"}
'''


@pytest.fixture()
def metric_dir(tmp_path):
    d = tmp_path / "word_overlap"
    d.mkdir()
    (d / "word_overlap.py").write_text(METRIC, encoding="utf-8")
    return d


def test_local_metric_scores_each_story_against_its_reference(metric_dir):
    scorer = EvaluateScorer(metric_dir, direction="higher")
    stories = [StoryInput("the cat sat", reference="the cat sat down"),
               StoryInput("a dog ran", reference="the cat sat down"),
               StoryInput("no reference here"),
               StoryInput("", reference="x")]
    r = scorer.score(stories, ScoringContext())
    assert r[0].values["word_overlap_overlap"] == 1.0 and r[0].values["word_overlap_n_words"] == 3.0
    assert r[1].values["word_overlap_overlap"] == 0.0
    assert "word_overlap_label" not in r[0].values
    assert r[2].values["word_overlap"] is None and "reference" in r[2].notes["word_overlap"]
    assert r[3].values["word_overlap"] is None and "not scorable" in r[3].notes["word_overlap"]


def test_entry_point_class_and_missing_path(metric_dir, tmp_path):
    cls = evaluate_scorer_class(metric_dir, "overlap", "higher", fields=["overlap"])
    (r,) = cls().score([StoryInput("the cat", reference="the cat")], ScoringContext())
    assert r.values["overlap_overlap"] == 1.0
    assert cls.metrics == () and cls().metrics[0].name == "overlap_overlap"
    with pytest.raises(EvalkitError, match="no such file"):
        EvaluateScorer(tmp_path / "missing")
