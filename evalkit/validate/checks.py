"""The validation checks that need no human ratings: the ROCStories shuffle test (coherence), repeats
injected into real children's stories (repetition), and the reading level of children's corpora.

Data: EVALKIT_VALIDATION_DIR or the ``shared/validation`` folder next to the repository (read in place,
never copied into the repository). Each check returns plain numbers; docs.py renders them.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.score_cache import ScoreCache
from evalkit.scorers.base import ScoringContext, StoryInput
from evalkit.scorers.reading_level import ReadingLevelScorer
from evalkit.scorers.repetition import RepetitionScorer
from evalkit.scorers.text import sentence_key, sentences, words
from evalkit.scorers.vocabulary import VocabularyScorer
from evalkit.scoring import cached_score_stories
from evalkit.stats import SEED, resample_means

BOOT = 1000
RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
REPO = Path(__file__).resolve().parents[2]


def data_dir() -> Path | None:
    """EVALKIT_VALIDATION_DIR, else the ``shared/validation`` folder next to the repository."""
    env = os.environ.get("EVALKIT_VALIDATION_DIR")
    p = Path(env) if env else REPO.parent / "shared" / "validation"
    return p if (p / "hanna_dev.csv").is_file() else None


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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


def reference_ranges(d: Path) -> list[dict]:
    import pandas as pd

    return pd.read_csv(d / "reference_ranges.csv").to_dict("records")


def roc_shuffle(d: Path, n_pairs: int, scorers: Sequence[Any], context: Any, cache_dir: Any,
                metrics: Sequence[str]) -> dict[str, dict]:
    """Each ROC story as written and as its shuffled twin, scored through the score cache (no prompt)."""
    pairs = roc_pairs(d)[:n_pairs]
    cache = ScoreCache(cache_dir) if cache_dir is not None else None
    orig, shuf = [], []
    for i in range(0, len(pairs), ROC_CHUNK):  # per chunk: a killed run keeps what it scored (not corpus scorers)
        chunk = pairs[i:i + ROC_CHUNK]
        orig += cached_score_stories([StoryInput(" ".join(p["original"]), id=str(p["id"])) for p in chunk], scorers, context, cache)
        shuf += cached_score_stories([StoryInput(" ".join(p["shuffled"]), id=str(p["id"])) for p in chunk], scorers, context, cache)
    return shuffle_accuracy([r.values for r in orig], [r.values for r in shuf], metrics)


ROC_CHUNK = 100


# ---------- ROC shuffle test ----------

def shuffle_accuracy(orig: Sequence[dict], shuf: Sequence[dict], metrics: Sequence[str]) -> dict[str, dict]:
    out = {}
    for m in metrics:
        pairs = [(a.get(m), b.get(m)) for a, b in zip(orig, shuf)]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        n = len(pairs)
        wins = sum(a > b for a, b in pairs)
        ties = sum(a == b for a, b in pairs)
        acc = wins / n if n else float("nan")
        lo, hi = _wilson(wins, n)
        out[m] = {"accuracy": acc, "lo": lo, "hi": hi, "n": n, "ties": ties}
    return out


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / den
    return c - half, c + half


# ---------- repetition injection ----------

def inject(sents: list[str], rate: float, mode: str, seed: int) -> list[str]:
    """Insert copies of the story's own sentences until ``rate`` of the sentences are repeats.
    scattered: copies of random sentences at random places; tail: copies of the last sentence at the end
    (a loop). The same seed gives nested edits: a higher rate adds to the lower rate's copies."""
    n = len(sents)
    k = round(rate * n / (1 - rate)) if rate < 1 else 0
    if mode == "tail":  # the last sentence that has words (a closing quote mark alone is no sentence)
        last = next((x for x in reversed(sents) if sentence_key(x)), sents[-1])
        return sents + [last] * k
    rng = random.Random(seed)
    ops = [(rng.randrange(n), rng.random()) for _ in range(round(0.5 * n / 0.5) + 1)]
    out = list(sents)
    for src, where in ops[:k]:
        out.insert(int(where * (len(out) + 1)), sents[src])
    return out


def repetition_dose_response(corpora: dict[str, list[str]], per_corpus: int, scorer_names=("repetition",)) -> dict:
    """Spearman of each repetition metric with the injected rate: per story (mean over stories) and
    over the corpus means."""
    from scipy.stats import spearmanr

    metrics = {"seq_rep_4": 1, "repeated_sentences": 1, "compression_ratio": 1, "loop": 1, "distinct_2": -1}
    result: dict[str, Any] = {}
    scorer = RepetitionScorer()
    for corpus, texts in corpora.items():
        stories = [sentences(t) for t in texts]
        stories = [s for s in stories if len(s) >= 5][:per_corpus]
        for mode in ("scattered", "tail"):
            vals = {m: np.full((len(stories), len(RATES)), np.nan) for m in metrics}
            for j, rate in enumerate(RATES):
                inputs = [StoryInput(" ".join(inject(s, rate, mode, seed=SEED + i))) for i, s in enumerate(stories)]
                for i, r in enumerate(scorer.score(inputs, ScoringContext())):
                    for m, sign in metrics.items():
                        v = r.values.get(m)
                        vals[m][i, j] = np.nan if v is None else sign * v
            for m in metrics:
                per = []
                for row in vals[m]:
                    if np.all(row == row[0]):
                        per.append(0.0)  # flat: the metric did not respond at all
                    else:
                        per.append(spearmanr(RATES, row).statistic)
                means = np.nanmean(vals[m], axis=0)
                result.setdefault(m, {})[(corpus, mode)] = {
                    "story_spearman": float(np.nanmean(per)),
                    "corpus_spearman": float(spearmanr(RATES, means).statistic) if np.ptp(means) > 0 else 0.0,
                    "means": [float(x) for x in means],
                    "n": len(stories),
                }
    return result


# ---------- reading level, vocabulary, word list ----------

def corpus_levels(corpora: dict[str, list[str]], boot: int = BOOT) -> dict[str, dict]:
    out = {}
    for name, texts in corpora.items():
        inputs = [StoryInput(t) for t in texts]
        rl = ReadingLevelScorer().score(inputs, ScoringContext())
        vo = VocabularyScorer().score(inputs, ScoringContext())
        g = np.array([r.values["fk_grade"] for r in rl if r.values["fk_grade"] is not None])
        means = resample_means(g, boot)
        n_words = sum(len(words(t)) for t in texts)
        hits = sum(r.values["unsuitable_words"] or 0 for r in rl)
        out[name] = {
            "n": len(texts), "fk_grade": float(g.mean()), "fk_lo": float(np.percentile(means, 2.5)),
            "fk_hi": float(np.percentile(means, 97.5)),
            "band_fit": float(np.mean([r.values["reading_band_fit"] for r in rl if r.values["reading_band_fit"] is not None])),
            "unsuitable_per_1000": 1000.0 * hits / max(1, n_words),
            "share_with_unsuitable": float(np.mean([(r.values["unsuitable_words"] or 0) > 0 for r in rl])),
            **{m: float(np.nanmean([r.values[m] if r.values[m] is not None else np.nan for r in vo]))
               for m in ("mtld", "mattr_50", "hdd")},
        }
    return out
