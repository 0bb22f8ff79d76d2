"""The genre classifier: candidate models that read what makes a genre, and their calibration.

Three feature families, each feeding its own logistic regression, and their soft-voting ensemble:
``embed`` (MiniLM-L6 story embeddings: the mean over ~120-word chunks, since the model reads at most
256 word pieces), ``tfidf`` (word 1-2-grams) and ``cues`` (similarity of the story to each genre's
description, the zero-shot prior, plus the rate of each genre's cue words taken from the same
descriptions). scikit-learn's CalibratedClassifierCV then calibrates the probabilities. Which
candidate and which calibration are used (CHOSEN, CALIBRATION) was chosen by cross-validation
(leave one writer out) on the corpus' train part plus persona-tales' train split: TF-IDF alone beat
the ensemble there, so the scorer uses it. See evalkit/scorers/_genre_eval.py and docs/genre.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.scorers.text import words

CORPUS_DIR = Path(__file__).parent / "genre_corpus"
CORPUS_FILE = CORPUS_DIR / "stories.jsonl"
EVALUATION_FILE = CORPUS_DIR / "evaluation.json"
SEED = 0
CHUNK_WORDS = 120
CANDIDATES = ("embed", "tfidf", "cues", "ensemble")
CHOSEN = "tfidf"  # chosen by cross-validation (docs/genre.md); a test checks evaluation.json agrees
CALIBRATION = "temperature"  # likewise
C_EMBED, C_TFIDF, C_CUES = 4.0, 10.0, 1.0
_STOP_EXTRA = {"story", "stories", "thing", "things", "came", "drive", "plot", "end", "real", "own", "rule",
               "rules", "world", "worlds", "place", "places", "imagined", "time", "tale", "invented",
               "event", "missing", "strange"}


@dataclass(frozen=True)
class LabelledStory:
    """One labelled story: from the shipped corpus or from a suite's train split."""

    id: str
    genre: str
    text: str
    group: str  # who wrote it (cross-validation holds out one group at a time)
    part: str = "train"  # "train" or the corpus' locked "test" part
    mixed_cue: bool = False
    borrowed: str | None = None


def load_corpus(path: Path | None = None) -> list[LabelledStory]:
    """The shipped labelled corpus (both parts; callers pick ``part``). Empty when not shipped."""
    path = Path(path or CORPUS_FILE)  # read at call time: tests point CORPUS_FILE at a smaller corpus
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(LabelledStory(r["id"], r["genre"], r["story"], r["writer"], r["part"],
                                     bool(r["mixed_cue"]), r.get("borrowed")))
    return out


def _stem(w: str) -> str:
    for suf, rep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: -len(suf)] + rep
    return w


def cue_lexicon(genres: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Each genre's cue-word stems: the content words of its name and description, less words that
    two descriptions share and words the description negates ("without magic")."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    bags = {}
    for g, desc in genres.items():
        desc = re.sub(r"\b(without|not|no)\s+\w+", " ", desc.lower())
        ws = words(g.replace("-", " ") + " " + desc.replace("-", " "))
        bags[g] = {_stem(w) for w in ws if w not in ENGLISH_STOP_WORDS and w not in _STOP_EXTRA and len(w) > 2}
    shared = {s for g in bags for s in bags[g] if sum(s in b for b in bags.values()) > 1}
    return {g: tuple(sorted(b - shared)) for g, b in bags.items()}


def cue_rates(texts, lexicon: tuple[tuple[str, ...], ...]):
    """Per story and genre: cue words per 100 words (a FunctionTransformer; picklable)."""
    import numpy as np

    out = np.zeros((len(texts), len(lexicon)))
    for i, t in enumerate(list(texts)):
        stems = [_stem(w) for w in words(t)]
        n = max(len(stems), 1)
        for j, cues in enumerate(lexicon):
            cs = set(cues)
            out[i, j] = 100.0 * sum(s in cs for s in stems) / n
    return out


def chunks(text: str, size: int = CHUNK_WORDS) -> list[str]:
    ws = text.split()
    return [" ".join(ws[i : i + size]) for i in range(0, max(len(ws), 1), size)] or [""]


def story_embeddings(texts: Sequence[str], context):
    """Mean of the normalised MiniLM embeddings of each story's chunks, normalised again."""
    import numpy as np

    if not len(texts):
        return np.zeros((0, 384), dtype=np.float32)
    parts = [chunks(t) for t in texts]
    flat = [c for p in parts for c in p]
    emb = context.embed(flat) if flat else np.zeros((0, 384), dtype=np.float32)
    out, k = [], 0
    for p in parts:
        v = emb[k : k + len(p)].mean(axis=0)
        out.append(v / (np.linalg.norm(v) or 1.0))
        k += len(p)
    return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


def describe(genre: str, description: str) -> str:
    return f"A {genre} story for children. {description}"


def needs_embeddings(candidate: str | None) -> bool:
    """Whether a candidate reads MiniLM columns (e*, or z*, which are similarities of embeddings).
    ``None`` (every candidate, the zero-shot prior included) does."""
    return candidate != "tfidf"


def feature_frame(texts: Sequence[str], context, genres: dict[str, str], candidate: str | None = None):
    """The classifier's input: the text, its embedding columns e*, its similarity to each genre's
    description z* (the zero-shot prior), in ``sorted(genres)`` order. For a candidate that reads only
    the text (``tfidf``) just the text column: no MiniLM is loaded and nothing is embedded, and the
    fitted pipeline, which selects its columns by name, predicts exactly as from the full frame."""
    import pandas as pd

    if not needs_embeddings(candidate):
        return pd.DataFrame({"text": list(texts)})
    names = sorted(genres)
    emb = story_embeddings(texts, context)
    desc = context.embed([describe(g, genres[g]) for g in names])
    zs = emb @ desc.T
    df = pd.DataFrame(emb, columns=[f"e{i}" for i in range(emb.shape[1])])
    for j in range(len(names)):
        df[f"z{j}"] = zs[:, j]
    df.insert(0, "text", list(texts))
    return df


def make_estimator(candidate: str, genres: dict[str, str]):
    """An unfitted scikit-learn estimator for one candidate (see CANDIDATES)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import VotingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    names = sorted(genres)
    lex = cue_lexicon(genres)
    emb_cols = [f"e{i}" for i in range(384)]
    zs_cols = [f"z{j}" for j in range(len(names))]

    def lr(c):
        return LogisticRegression(C=c, max_iter=3000, random_state=SEED)

    members = {
        "embed": make_pipeline(ColumnTransformer([("e", "passthrough", emb_cols)]), lr(C_EMBED)),
        "tfidf": make_pipeline(
            ColumnTransformer([("t", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                                     max_features=8000), "text")]), lr(C_TFIDF)),
        "cues": make_pipeline(
            ColumnTransformer([("z", "passthrough", zs_cols),
                               ("l", FunctionTransformer(cue_rates, kw_args={"lexicon": tuple(lex[g] for g in names)}),
                                "text")]),
            StandardScaler(), lr(C_CUES)),
    }
    if candidate in members:
        return members[candidate]
    if candidate == "ensemble":
        return VotingClassifier(list(members.items()), voting="soft")
    raise ValueError(f"unknown candidate {candidate!r}")


def calibrated(estimator, method: str = CALIBRATION, folds: int = 3):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold

    if method == "none":
        return estimator
    return CalibratedClassifierCV(estimator, method=method,
                                  cv=StratifiedKFold(folds, shuffle=True, random_state=SEED))


def outer_cv(stories: Sequence[LabelledStory]):
    """Leave one writer out when there are three writers or more, else a seeded stratified 5-fold."""
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold

    if len({s.group for s in stories}) >= 3:
        return LeaveOneGroupOut()
    return StratifiedKFold(5, shuffle=True, random_state=SEED)


def oof_probabilities(estimator, frame, stories: Sequence[LabelledStory], classes: Sequence[str]):
    """Out-of-fold probabilities (columns in ``classes`` order), each story predicted by a model that
    did not see its writer (or its fold)."""
    import numpy as np
    from sklearn.base import clone

    y = np.array([s.genre for s in stories])
    groups = np.array([s.group for s in stories])
    proba = np.zeros((len(stories), len(classes)))
    cv = outer_cv(stories)
    folds = cv.split(frame, y, groups) if hasattr(cv, "get_n_splits") and "Group" in type(cv).__name__ else cv.split(frame, y)
    for tr, te in folds:
        est = clone(estimator).fit(frame.iloc[tr], y[tr])
        p = est.predict_proba(frame.iloc[te])
        cols = [list(est.classes_).index(c) for c in classes]
        proba[te] = p[:, cols]
    return proba


def predict_proba(fitted, frame, classes: Sequence[str]):
    p = fitted.predict_proba(frame)
    return p[:, [list(fitted.classes_).index(c) for c in classes]]


def training_stories(genres: dict[str, str], suite_items: Sequence[Any] = (),
                     corpus: Sequence[LabelledStory] | None = None, group: str = "suite") -> list[LabelledStory]:
    """The corpus' train part for the suite's genres (when every suite genre is a corpus genre) plus
    the suite's own train-split stories."""
    corpus = load_corpus() if corpus is None else corpus
    out = []
    if corpus and set(genres) <= {s.genre for s in corpus}:
        out += [s for s in corpus if s.part == "train" and s.genre in genres]
    from evalkit.scorers.text import clean

    out += [LabelledStory(i.id, i.genre, clean(i.story), group, "train")
            for i in suite_items if i.split == "train" and i.genre in genres and i.story]
    return out
