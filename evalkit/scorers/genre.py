"""Genre adherence: the probability that a story is in the genre it was asked for.

With train stories in the suite (items of split "train"): a scikit-learn logistic regression on MiniLM
embeddings (``FEATURES = "embed+tfidf"`` adds TF-IDF word 1-2-grams), trained on them, with its
cross-validated accuracy recorded.
Without: zero-shot, a softmax over the cosine similarity between the story and each genre's
description in suite.toml. The fitted model lives in ``context.shared``: one fit per suite and run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import clean, words

MIN_TRAIN_PER_GENRE = 3
FEATURES = "embed"  # MiniLM alone: TF-IDF added nothing in cross-validation (docs/metrics.md)
C = 1.0
ZERO_SHOT_TEMPERATURE = 0.02  # cosine differences between genres are small: a sharp softmax
MIN_WORDS = 5
SEED = 0


@dataclass
class GenreModel:
    kind: str  # "classifier" or "zero-shot"
    genres: list[str]
    n_train: int = 0
    cv_accuracy: float | None = None
    confusion: list[list[int]] = field(default_factory=list)  # rows: true genre, columns: predicted
    fitted: Any = None
    tfidf: Any = None
    features: str = FEATURES

    def describe(self) -> str:
        if self.kind == "zero-shot":
            return "zero-shot (similarity to the suite's genre descriptions; no train stories)"
        feats = "MiniLM + TF-IDF" if self.features == "embed+tfidf" else "MiniLM embeddings"
        return (f"logistic regression on {feats}, {self.n_train} train stories, "
                f"{self.cv_accuracy:.0%} cross-validated accuracy")


def _featurize(texts: Sequence[str], emb, tfidf, features: str):
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    if features == "embed" or tfidf is None:
        return np.asarray(emb)
    return hstack([csr_matrix(np.asarray(emb)), tfidf.transform(texts)]).tocsr()


def fit_classifier(texts: Sequence[str], labels: Sequence[str], emb, features: str = FEATURES):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tfidf = None
    if features != "embed":
        tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, max_features=20000).fit(texts)
    clf = LogisticRegression(C=C, max_iter=2000, random_state=SEED)
    clf.fit(_featurize(texts, emb, tfidf, features), list(labels))
    return clf, tfidf


def cross_validate(texts: Sequence[str], labels: Sequence[str], emb, features: str = FEATURES,
                   genres: Sequence[str] | None = None) -> tuple[float, list[list[int]], list[str]]:
    """Stratified k-fold (k <= 5) accuracy and confusion matrix; returns the predictions too."""
    import numpy as np
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import StratifiedKFold

    labels = list(labels)
    genres = list(genres or sorted(set(labels)))
    k = max(2, min(5, min(labels.count(g) for g in set(labels))))
    pred = [""] * len(labels)
    emb = np.asarray(emb)
    for tr, te in StratifiedKFold(n_splits=k, shuffle=True, random_state=SEED).split(np.zeros(len(labels)), labels):
        clf, tfidf = fit_classifier([texts[i] for i in tr], [labels[i] for i in tr], emb[tr], features)
        for i, p in zip(te, clf.predict(_featurize([texts[i] for i in te], emb[te], tfidf, features))):
            pred[i] = p
    acc = float(np.mean([p == y for p, y in zip(pred, labels)]))
    return acc, confusion_matrix(labels, pred, labels=genres).tolist(), pred


def build_genre_model(context: ScoringContext) -> GenreModel | None:
    suite = context.suite
    if suite is None or not suite.genres:
        return None
    key = ("genre_model", suite.hash)
    if key in context.shared:
        return context.shared[key]
    genres = sorted(suite.genres)
    train = [i for i in suite.items if i.split == "train" and i.genre in suite.genres]
    counts = {g: sum(i.genre == g for i in train) for g in genres}
    if all(c >= MIN_TRAIN_PER_GENRE for c in counts.values()):
        texts = [clean(i.story) for i in train]
        labels = [i.genre for i in train]
        emb = context.embed(texts)
        acc, conf, _ = cross_validate(texts, labels, emb, genres=genres)
        clf, tfidf = fit_classifier(texts, labels, emb)
        model = GenreModel("classifier", genres, len(train), acc, conf, clf, tfidf)
    else:
        model = GenreModel("zero-shot", genres)
    context.shared[key] = model
    return model


def genre_probabilities(model: GenreModel, texts: Sequence[str], context: ScoringContext, suite_genres: dict[str, str]):
    """An (n_texts, n_genres) array of probabilities, columns in ``model.genres`` order."""
    import numpy as np

    emb = context.embed(list(texts))
    if model.kind == "classifier":
        proba = model.fitted.predict_proba(_featurize(texts, emb, model.tfidf, model.features))
        cols = [list(model.fitted.classes_).index(g) for g in model.genres]
        return proba[:, cols]
    desc = context.embed([f"A {g} story for children. {suite_genres[g]}" for g in model.genres])
    logits = (emb @ desc.T) / ZERO_SHOT_TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


class GenreScorer(Scorer):
    name = "genre"
    metrics = (
        Metric("genre_adherence", "higher", 0.0, 1.0, "probability that the story is in the requested genre"),
        Metric("genre_match", "higher", 0.0, 1.0, "1 when the requested genre is the most probable one, else 0"),
    )

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        model = build_genre_model(context)
        texts = [clean(s.text) for s in stories]
        out = [StoryScores() for _ in stories]
        todo = []
        for i, (s, t) in enumerate(zip(stories, texts)):
            why = None
            if model is None:
                why = "not scorable: no suite with [genres] to compare with"
            elif not s.genre:
                why = "not scorable: no genre was requested"
            elif s.genre not in model.genres:
                why = f"not scorable: genre {s.genre!r} is not one of the suite's genres"
            elif len(words(t)) < MIN_WORDS:
                why = f"not scorable: {len(words(t))} word(s)"
            if why:
                out[i].values = {"genre_adherence": None, "genre_match": None}
                out[i].notes = {"genre_adherence": why, "genre_match": why}
            else:
                todo.append(i)
        if todo and model is not None:
            proba = genre_probabilities(model, [texts[i] for i in todo], context, context.suite.genres)
            how = model.describe()
            for row, i in enumerate(todo):
                col = model.genres.index(stories[i].genre)
                out[i].values = {"genre_adherence": float(proba[row, col]),
                                 "genre_match": float(proba[row].argmax() == col)}
                out[i].notes = {"genre_adherence": how}
        return out
