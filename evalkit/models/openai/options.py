"""Options of a ``backend = "openai"`` preset, validated (typos fail loudly), and which of them name the model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class OpenAIOptions(BaseModel):
    """Options of a ``backend = "openai"`` preset. Unknown keys are an error (typos fail loudly)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="e.g. http://127.0.0.1:8000/v1")
    model: str | None = Field(None, description="the served model name; None: the only one /models lists")
    endpoint: Literal["chat", "completions"] = Field("chat", description="chat/completions or completions")
    api_key_env: str | None = Field(None, description="NAME of the env var holding the key; the key is never stored")
    timeout_s: float = Field(300.0, gt=0, description="whole request, first byte to last")
    connect_timeout_s: float = Field(10.0, gt=0, description="seconds to open a connection")
    max_retries: int = Field(4, ge=0, description="retries of a transient failure (429, 408, 5xx, timeouts)")
    backoff_s: float = Field(1.0, ge=0, description="first wait between retries; doubles each retry")
    max_backoff_s: float = Field(30.0, ge=0, description="longest wait between retries")
    concurrency: int = Field(4, ge=1, description="requests in flight at once")
    stream: bool = Field(True, description="stream each story (measures time to first token)")
    extra_body: dict[str, Any] = Field(default_factory=dict,
                                       description="merged into every request body; null deletes a field")
    tokenizer: str | None = Field(None, description="local tokenizer folder, counts tokens when the server sends no usage")

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1)")
        return v.rstrip("/")


# Options that change speed or bookkeeping, never the text: left out of the cache key.
NOT_IDENTITY = frozenset({"api_key_env", "timeout_s", "connect_timeout_s", "max_retries", "backoff_s",
                          "max_backoff_s", "concurrency", "stream", "tokenizer"})
