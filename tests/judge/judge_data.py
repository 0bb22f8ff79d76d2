"""Stories and a models-file writer shared by the judge tests (a uniquely named module: `conftest`
is ambiguous when several test folders are collected together)."""

from __future__ import annotations

import socket
from pathlib import Path

STORIES = [
    "Once there was a small dragon who could not breathe fire. She practised every day and one day a warm spark came out.",
    "The explorers climbed the mountain and found a hidden lake. They drew it on their map and went home proud.",
    "A robot on the space station fixed the broken water pump. The crew cheered and gave the robot a shiny new bolt.",
    "Who took the hamster's food? The clue was a trail of seeds that led to the cat's bed.",
]


def models_file(tmp_path: Path, base_url: str, **extra) -> Path:
    """A models file defining the preset `server-judge` for an openai backend at base_url."""
    lines = ["[models.server-judge]", 'backend = "openai"', f'base_url = "{base_url}"', "max_retries = 0",
             "backoff_s = 0", "concurrency = 2"]
    lines += [f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {str(v).lower()}"
              for k, v in extra.items()]
    f = tmp_path / "judges.toml"
    f.write_text("\n".join(lines) + "\n")
    return f


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
