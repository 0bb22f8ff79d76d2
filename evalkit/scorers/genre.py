"""Genre adherence: the calibrated probability that a story is in the genre it was asked for.

With enough labelled stories for every suite genre (the shipped corpus, evalkit/scorers/genre_corpus/,
when the suite's genres are corpus genres, plus the suite's own train split): the calibrated ensemble of
genre_classifier.py, fitted at first use and cached on disk under a hash of its training stories,
genre descriptions and model version, so a rerun does not refit. The chosen model (TF-IDF + logistic
regression, temperature-calibrated) reads only the text: fitting it (cross-validation record
included) and scoring need no MiniLM, so sentence_transformers is never imported on that path. Its cross-validated record (accuracy with a
Wilson interval, ECE before/after calibration, reliability table, confusion matrix) is
``GenreModel.evaluation`` and is summarised in every score's note.
Without enough labelled stories: zero-shot, a softmax over the similarity between the story and each
genre's description in suite.toml, with a note that says so.

Whether ``genre_adherence`` is a calibrated probability (stars may read it as one) is
``GenreModel.calibrated`` (``genre_calibrated(context)`` for a scoring context), and every score's
note begins with ``CALIBRATED_NOTE`` or ``UNCALIBRATED_NOTE`` accordingly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.text import clean, words

MIN_LABELLED_PER_GENRE = 10
MIN_WORDS = 5
MODEL_VERSION = "genre-ensemble/2"  # bump when features or estimators change: old cache entries are ignored
CALIBRATED_NOTE = "calibrated:"  # how a score's note begins when genre_adherence is a calibrated probability
UNCALIBRATED_NOTE = "uncalibrated:"


@dataclass
class GenreModel:
    kind: str  # "classifier" or "zero-shot"
    genres: list[str]
    descriptions: dict[str, str] = field(default_factory=dict)
    fitted: Any = None
    evaluation: Any = None  # _genre_eval.GenreEvaluation for a classifier
    why: str = ""  # for zero-shot: why there is no classifier
    from_cache: bool = False

    @property
    def calibrated(self) -> bool:
        """True when the probabilities are calibrated: the classifier, fitted through scikit-learn's
        CalibratedClassifierCV (its out-of-fold ECE is ``evaluation.cv.ece``), so that among stories
        given p about a share p are in that genre. False for zero-shot (a softmax over description
        similarities, whose size means nothing) or an uncalibrated classifier."""
        return self.kind == "classifier" and self.evaluation is not None and self.evaluation.calibration != "none"

    @property
    def chance(self) -> float:
        """1/K: what a story the model cannot place gets for every genre."""
        return 1.0 / len(self.genres)

    def describe(self) -> str:
        if self.kind == "zero-shot":
            return (f"{UNCALIBRATED_NOTE} zero-shot (similarity to the suite's genre descriptions): " + self.why).strip()
        ev = self.evaluation
        head = CALIBRATED_NOTE if self.calibrated else UNCALIBRATED_NOTE
        return (f"{head} genre classifier ({ev.candidate}, {ev.calibration} calibration) on {ev.n_train} "
                f"labelled stories: {ev.summary()}")


def cache_dir() -> Path:
    return Path(os.environ.get("EVALKIT_CACHE", Path.home() / ".cache" / "evalkit")) / "genre"


def model_key(stories, genres: dict[str, str]) -> str:
    import sklearn

    from evalkit.records import stable_hash
    from evalkit.scorers import genre_classifier as gc

    return stable_hash([MODEL_VERSION, sklearn.__version__, gc.CHOSEN, gc.CALIBRATION, sorted(genres.items()),
                        [(s.id, s.genre, s.group, s.text) for s in stories]], length=24)


def _load_or_fit(stories, genres: dict[str, str], context: ScoringContext) -> tuple[Any, Any, bool]:
    import joblib

    from evalkit.scorers import _genre_eval as ge

    path = cache_dir() / f"{model_key(stories, genres)}.joblib"
    if path.exists():
        try:
            fitted, record = joblib.load(path)
            return fitted, ge.GenreEvaluation.model_validate_json(record), True
        except Exception:  # a torn or stale cache entry: refit and replace it
            pass
    fitted, ev = ge.fit_genre_model(stories, genres, context)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    joblib.dump((fitted, ev.model_dump_json(by_alias=True)), tmp)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return fitted, ev, False


def build_genre_model(context: ScoringContext) -> GenreModel | None:
    suite = context.suite
    if suite is None or not suite.genres:
        return None
    key = ("genre_model", suite.hash)
    if key in context.shared:
        return context.shared[key]
    from evalkit.scorers import genre_classifier as gc

    genres = dict(sorted(suite.genres.items()))
    stories = gc.training_stories(genres, suite.items, group=suite.name)
    counts = {g: sum(s.genre == g for s in stories) for g in genres}
    short = {g: n for g, n in counts.items() if n < MIN_LABELLED_PER_GENRE}
    if short:
        why = (f"fewer than {MIN_LABELLED_PER_GENRE} labelled stories for "
               + ", ".join(f"{g} ({n})" for g, n in short.items()))
        model = GenreModel("zero-shot", list(genres), genres, why=why)
    else:
        fitted, ev, cached = _load_or_fit(stories, genres, context)
        model = GenreModel("classifier", list(genres), genres, fitted, ev, from_cache=cached)
    context.shared[key] = model
    return model


def genre_calibrated(context: ScoringContext) -> bool | None:
    """Whether the genre scorer's probabilities in ``context`` are calibrated (see
    ``GenreModel.calibrated``); None when there is no suite with genres to score against."""
    model = build_genre_model(context)
    return None if model is None else model.calibrated


def genre_probabilities(model: GenreModel, texts: Sequence[str], context: ScoringContext):
    """An (n_texts, n_genres) array of probabilities, columns in ``model.genres`` order. Only the
    features the model reads are computed (no embeddings for a text-only classifier)."""
    from evalkit.scorers import _genre_eval as ge
    from evalkit.scorers import genre_classifier as gc

    if model.kind == "classifier":
        frame = gc.feature_frame(list(texts), context, model.descriptions, model.evaluation.candidate)
        return gc.predict_proba(model.fitted, frame, model.genres)
    return ge.zero_shot_probabilities(gc.feature_frame(list(texts), context, model.descriptions), model.genres)


class GenreScorer(Scorer):
    name = "genre"
    metrics = (
        Metric("genre_adherence", "higher", 0.0, 1.0, "calibrated probability that the story is in the requested genre"),
        Metric("genre_match", "higher", 0.0, 1.0, "1 when the requested genre is the most probable one, else 0"),
    )

    def cache_identity(self, context: ScoringContext) -> str:
        # the model is refitted from the shipped corpus: new stories there mean new numbers
        from evalkit.records import stable_hash
        from evalkit.scorers import genre_classifier as gc

        corpus = gc.CORPUS_FILE.read_bytes() if gc.CORPUS_FILE.exists() else b""
        return f"{self.version};{MODEL_VERSION};corpus={stable_hash(corpus.decode('utf-8'), length=12)}"

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
            proba = genre_probabilities(model, [texts[i] for i in todo], context)
            how = model.describe()
            for row, i in enumerate(todo):
                col = model.genres.index(stories[i].genre)
                out[i].values = {"genre_adherence": float(proba[row, col]),
                                 "genre_match": float(proba[row].argmax() == col)}
                out[i].notes = {"genre_adherence": how, "genre_match": how}
        return out


def validation_markdown(context: ScoringContext | None = None) -> str:
    """The genre section of docs/metrics.md (`evalkit validate --docs` calls this): rendered from the
    stored evaluation that scripts/genre_eval.py wrote, the same record docs/genre.md comes from."""
    from evalkit.scorers import _genre_eval as ge
    from evalkit.scorers import genre_classifier as gc

    ev = ge.GenreEvaluation.model_validate_json(gc.EVALUATION_FILE.read_text(encoding="utf-8"))
    body = ge.render_markdown(ev)
    return body[body.index("## Genre adherence"):]  # without the generated-file comment
