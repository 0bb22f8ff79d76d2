"""Story scorers. The seam is in ``evalkit.scorers.base``; scorers register under ``evalkit.scorers``."""

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores

__all__ = ["Metric", "Scorer", "ScoringContext", "StoryInput", "StoryScores"]
