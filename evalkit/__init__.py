"""evalkit: a harness to choose a language model for children's stories.

Light on import: torch, transformers and friends are imported only inside the code that needs them.
"""

from evalkit._version import __version__
from evalkit.errors import EvalkitError
from evalkit.models.base import Model, ModelSpec, Request
from evalkit.records import Generation, GenerationParams, ModelInfo
from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.suites import Character, Suite, SuiteItem, load_suite

__all__ = [
    "__version__", "Character", "EvalkitError", "Generation", "GenerationParams", "Metric", "Model",
    "ModelInfo", "ModelSpec", "Request", "Scorer", "ScoringContext", "StoryInput", "StoryScores",
    "Suite", "SuiteItem", "load_suite",
]
