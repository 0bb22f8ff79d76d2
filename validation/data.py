"""Where the validation data lives and how to read it. The data is never copied into the repository."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path | None:
    """EVALKIT_VALIDATION_DIR, else the ``shared/validation`` folder next to the repository."""
    env = os.environ.get("EVALKIT_VALIDATION_DIR")
    p = Path(env) if env else REPO.parent / "shared" / "validation"
    return p if (p / "hanna_dev.csv").is_file() else None


def require_dir() -> Path:
    d = data_dir()
    if d is None:
        raise SystemExit("validation data not found: set EVALKIT_VALIDATION_DIR or put it in ../shared/validation")
    return d


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def hanna(d: Path):
    import pandas as pd

    return pd.read_csv(d / "hanna_dev.csv")


def roc_pairs(d: Path) -> list[dict]:
    return jsonl(d / "roc_val_shuffle_pairs.jsonl")


def children_corpora(d: Path, fairytale_sentences: int = 40) -> dict[str, list[str]]:
    """Story texts of the three children's corpora, in their published reading-level order.
    FairytaleQA tales are long (2,000+ words): the first ``fairytale_sentences`` sentences of each."""
    return {
        "TinyStories": [r["text"] for r in jsonl(d / "tinystories_valid_sample.jsonl")],
        "Aesop": [r["text"] for r in jsonl(d / "aesop4children.jsonl")],
        "FairytaleQA": [" ".join(r["sentences"][:fairytale_sentences]) for r in jsonl(d / "fairytaleqa_train.jsonl")],
    }


def reference_ranges(d: Path):
    import pandas as pd

    return pd.read_csv(d / "reference_ranges.csv")
