"""Each validation check as a function returning plain numbers (run_validation.py renders them)."""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BOOT = 1000
SEED = 20240601
RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


# ---------- scoring through `evalkit score` ----------

def score_rows(rows: Sequence[dict], scorer_names: Sequence[str], suite: Any = None, context: Any = None,
               cache_dir: Path | None = None, tag: str = "") -> list[dict]:
    """Score stories the way `evalkit score` does (one JSONL line per story), with an optional cache."""
    from evalkit.commands.score import make_scorers, score_file
    from evalkit.scorers import coherence

    key = None
    if cache_dir is not None:
        blob = json.dumps([list(rows), list(scorer_names), coherence.PARTS, coherence.HEAD_TOKENS, tag], sort_keys=True)
        key = Path(cache_dir) / f"{tag or 'rows'}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.jsonl"
        if key.is_file():
            return [json.loads(x) for x in key.read_text().splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "stories.jsonl"
        src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        out = score_file(src, suite, make_scorers(scorer_names), context)
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text("".join(json.dumps(r) + "\n" for r in out))
    return out


# ---------- HANNA: Kendall tau with human Coherence ----------

def _matrix(df, col: str, human: str):
    """prompts x systems arrays of the metric and the human rating (machine systems only)."""
    m = df[df.model != "Human"]
    metric = m.pivot_table(index="prompt_id", columns="model", values=col, aggfunc="mean")
    hum = m.pivot_table(index="prompt_id", columns="model", values=human, aggfunc="mean")
    return metric.to_numpy(float), hum.loc[metric.index, metric.columns].to_numpy(float)


def _tau(a, b) -> float:
    from scipy.stats import kendalltau

    ok = ~(_isnan(a) | _isnan(b))
    if ok.sum() < 3:
        return float("nan")
    t = kendalltau(a[ok], b[ok]).statistic
    return float(t)


def _isnan(x):
    import numpy as np

    return np.isnan(x)


def hanna_taus(df, col: str, human: str = "Coherence", boot: int = BOOT) -> dict[str, float]:
    """System level (tau of the 10 system means) and story level (tau within each prompt, averaged),
    each with a 95% bootstrap CI over prompts."""
    import numpy as np

    X, H = _matrix(df, col, human)
    per_prompt = np.array([_tau(X[i], H[i]) for i in range(X.shape[0])])
    sys_t = _tau(np.nanmean(X, axis=0), np.nanmean(H, axis=0))
    story_t = float(np.nanmean(per_prompt))
    rng = np.random.default_rng(SEED)
    sys_b, story_b = [], []
    for _ in range(boot):
        pick = rng.integers(0, X.shape[0], X.shape[0])
        sys_b.append(_tau(np.nanmean(X[pick], axis=0), np.nanmean(H[pick], axis=0)))
        story_b.append(np.nanmean(per_prompt[pick]))
    lo_s, hi_s = np.nanpercentile(sys_b, [2.5, 97.5])
    lo_t, hi_t = np.nanpercentile(story_b, [2.5, 97.5])
    return {"system": sys_t, "system_lo": float(lo_s), "system_hi": float(hi_s),
            "story": story_t, "story_lo": float(lo_t), "story_hi": float(hi_t)}


def hanna_frame(df, scored: Sequence[dict]):
    """hanna_dev rows joined with their scores (by story_id)."""
    import pandas as pd

    s = pd.DataFrame(scored).drop(columns=["notes", "model"], errors="ignore")
    s["story_id"] = s["id"].astype(int)
    return df.merge(s.drop(columns=["id"]), on="story_id", how="left")


def coherence_ablation(frame, boot: int = 200) -> dict[str, Any]:
    """tau of coherence recombined without each part (same weights and scales; the weighted mean of
    standardized parts, which orders stories as coherence does)."""
    from evalkit.scorers.coherence import PARTS

    parts = frame[list(PARTS)].astype(float).to_dict("records")
    out: dict[str, Any] = {}
    for drop in [None, *PARTS]:
        col = f"_without_{drop}"
        frame[col] = [_weighted(p, drop) for p in parts]
        out[drop or "none"] = hanna_taus(frame, col, boot=boot)
    return out


def _weighted(p: dict, drop: str | None) -> float:
    from evalkit.scorers.coherence import PARTS

    num = den = 0.0
    for k, (w, mu, sd) in PARTS.items():
        v = p.get(k)
        if k == drop or v is None or v != v:
            continue
        num += w * (v - mu) / sd
        den += abs(w)
    return num / den if den else float("nan")


def part_stats(frame) -> dict[str, tuple[float, float]]:
    """Mean and sd of every coherence part over the machine stories (the standardization constants)."""
    from evalkit.scorers.coherence import PARTS

    m = frame[frame.model != "Human"]
    return {k: (float(m[k].mean()), float(m[k].std())) for k in PARTS}


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
    from evalkit.scorers.text import sentence_key

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
    import numpy as np
    from scipy.stats import spearmanr

    from evalkit.scorers.base import ScoringContext, StoryInput
    from evalkit.scorers.repetition import RepetitionScorer
    from evalkit.scorers.text import sentences

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
    import numpy as np

    from evalkit.scorers.base import ScoringContext, StoryInput
    from evalkit.scorers.reading_level import ReadingLevelScorer
    from evalkit.scorers.text import words
    from evalkit.scorers.vocabulary import VocabularyScorer

    out = {}
    rng = np.random.default_rng(SEED)
    for name, texts in corpora.items():
        inputs = [StoryInput(t) for t in texts]
        rl = ReadingLevelScorer().score(inputs, ScoringContext())
        vo = VocabularyScorer().score(inputs, ScoringContext())
        g = np.array([r.values["fk_grade"] for r in rl if r.values["fk_grade"] is not None])
        means = [g[rng.integers(0, g.size, g.size)].mean() for _ in range(boot)]
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


# ---------- genre ----------

def genre_check(items: Sequence[Any], genres: dict[str, str], context: Any) -> dict[str, Any]:
    """The genre classifier's stored evaluation (written by scripts/genre_eval.py: the corpus' train part
    plus persona-tales' train split, cross-validated by writer; the corpus' locked test part scored once).
    Refitting it here would take minutes and change nothing, so the record is read, not recomputed."""
    from evalkit.scorers import _genre_eval as ge
    from evalkit.scorers import genre_classifier as gc

    ev = ge.GenreEvaluation.model_validate_json(gc.EVALUATION_FILE.read_text(encoding="utf-8"))
    return ev.model_dump(by_alias=True)