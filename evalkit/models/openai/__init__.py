"""The OpenAI-compatible HTTP backend, by concept: options (what a preset may set), transport (HTTP,
retries, concurrency), wire (request body and answer parsing) and backend (the Model)."""

from evalkit.models.openai.backend import OpenAIModel
from evalkit.models.openai.options import OpenAIOptions

__all__ = ["OpenAIModel", "OpenAIOptions"]
