"""How good the genre classifier is: cross-validated accuracy (Wilson interval), calibration error
(before and after calibration), a reliability table and a confusion matrix, stored as a pydantic
record; the candidate and calibration comparison that chose the scorer's model; and docs/genre.md
rendered from that record (scripts/genre_eval.py writes both).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from evalkit.scorers import genre_classifier as gc

EVALUATION_SCHEMA = "evalkit.genre-evaluation/1"
ECE_BINS = 10
CALIBRATIONS = ("none", "sigmoid", "isotonic", "temperature")


class ReliabilityBin(BaseModel):
    """One bin of the reliability table: stories whose top probability falls in [low, high)."""

    low: float = Field(description="lower edge of the top-probability bin")
    high: float = Field(description="upper edge of the bin (the last bin includes 1.0)")
    n: int = Field(description="stories in the bin")
    confidence: float | None = Field(description="mean top probability of those stories (None when empty)")
    accuracy: float | None = Field(description="share of those stories whose top genre is right (None when empty)")


class Scores(BaseModel):
    """How predictions compare with labels on one set of stories."""

    n: int = Field(description="stories scored")
    accuracy: float = Field(description="top-1 accuracy")
    accuracy_low: float = Field(description="Wilson 95% interval, lower end")
    accuracy_high: float = Field(description="Wilson 95% interval, upper end")
    ece: float = Field(description=f"expected calibration error of the top probability ({ECE_BINS} equal bins)")
    mean_probability_true: float = Field(description="mean probability given to the true genre")
    n_mixed_cue: int = Field(0, description="stories that borrow another genre's surface cues")
    mixed_cue_accuracy: float | None = Field(None, description="top-1 accuracy on the mixed-cue stories")
    mixed_cue_low: float | None = Field(None, description="Wilson 95% interval of that accuracy, lower end")
    mixed_cue_high: float | None = Field(None, description="Wilson 95% interval, upper end")
    confusion: list[list[int]] = Field(description="rows: true genre, columns: predicted, in `genres` order")
    reliability: list[ReliabilityBin] = Field(description="reliability table of the top probability")


class CandidateScore(BaseModel):
    """A candidate model's cross-validated (uncalibrated) result."""

    accuracy: float = Field(description="out-of-fold top-1 accuracy")
    mixed_cue_accuracy: float | None = Field(description="out-of-fold accuracy on mixed-cue stories")
    ece: float = Field(description="out-of-fold expected calibration error")


class GenreEvaluation(BaseModel):
    """What the genre classifier was trained on and how well it does (stored in evaluation.json)."""

    schema_: str = Field(EVALUATION_SCHEMA, alias="schema", description="record type and version")
    genres: list[str] = Field(description="genres in the order of the confusion matrices")
    n_train: int = Field(description="labelled training stories")
    per_genre: dict[str, int] = Field(description="training stories per genre")
    sources: dict[str, int] = Field(description="training stories per writer group")
    candidate: str = Field(description="the model used (see genre_classifier.CANDIDATES)")
    calibration: str = Field(description="the calibration used (CalibratedClassifierCV method)")
    cv_scheme: str = Field(description="how the out-of-fold predictions were made")
    cv: Scores = Field(description="out-of-fold scores of the calibrated model")
    ece_before: float = Field(description="out-of-fold ECE of the same model without calibration")
    reliability_before: list[ReliabilityBin] = Field(description="reliability table without calibration")
    candidates: dict[str, CandidateScore] = Field(default_factory=dict,
                                                  description="every candidate's out-of-fold result (selection)")
    calibration_ece: dict[str, float] = Field(default_factory=dict,
                                              description="out-of-fold ECE per calibration method (selection)")
    locked_test: Scores | None = Field(None, description="the corpus' locked test part, scored once")
    fit_seconds: float | None = Field(None, description="wall seconds to fit the final model (not the CV)")
    first_use_seconds: float | None = Field(
        None, description="wall seconds of what the scorer does at first use in a fresh process: features, the "
                          "out-of-fold record and the final fit (scripts/genre_eval.py)")
    score_100_seconds: float | None = Field(None, description="wall seconds to score 100 stories with the fitted "
                                                              "model, features included")
    timing_load: float | None = Field(None, description="1-minute load average when those timings were taken")

    model_config = {"populate_by_name": True}

    def summary(self) -> str:
        c = self.cv
        return (f"{c.accuracy:.0%} cross-validated accuracy [{c.accuracy_low:.0%}-{c.accuracy_high:.0%}], "
                f"ECE {c.ece:.3f} ({self.ece_before:.3f} before calibration)")


def wilson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    if n == 0:
        return 0.0, 1.0
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def reliability(proba, correct, bins: int = ECE_BINS) -> list[ReliabilityBin]:
    import numpy as np

    conf = np.asarray(proba).max(axis=1)
    correct = np.asarray(correct, dtype=float)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = idx == b
        out.append(ReliabilityBin(low=b / bins, high=(b + 1) / bins, n=int(m.sum()),
                                  confidence=float(conf[m].mean()) if m.any() else None,
                                  accuracy=float(correct[m].mean()) if m.any() else None))
    return out


def ece(table: Sequence[ReliabilityBin]) -> float:
    n = sum(b.n for b in table)
    return float(sum(b.n * abs(b.confidence - b.accuracy) for b in table if b.n) / max(n, 1))


def score(proba, stories: Sequence[gc.LabelledStory], classes: Sequence[str]) -> Scores:
    import numpy as np
    from sklearn.metrics import confusion_matrix

    y = [s.genre for s in stories]
    pred = [classes[j] for j in np.asarray(proba).argmax(axis=1)]
    correct = [p == t for p, t in zip(pred, y)]
    table = reliability(proba, correct)
    mixed = [c for c, s in zip(correct, stories) if s.mixed_cue]
    k, n = sum(correct), len(correct)
    lo, hi = wilson(k, n)
    mlo, mhi = wilson(sum(mixed), len(mixed)) if mixed else (None, None)
    return Scores(n=n, accuracy=k / max(n, 1), accuracy_low=lo, accuracy_high=hi, ece=ece(table),
                  mean_probability_true=float(np.mean([proba[i][list(classes).index(t)] for i, t in enumerate(y)])),
                  n_mixed_cue=len(mixed), mixed_cue_accuracy=sum(mixed) / len(mixed) if mixed else None,
                  mixed_cue_low=mlo, mixed_cue_high=mhi,
                  confusion=confusion_matrix(y, pred, labels=list(classes)).tolist(), reliability=table)


def _cv_scheme(stories) -> str:
    groups = sorted({s.group for s in stories})
    if len(groups) >= 3:
        return f"leave one writer out ({len(groups)} groups: {', '.join(groups)})"
    return f"stratified 5-fold, seed {gc.SEED}"


def fit_genre_model(stories: Sequence[gc.LabelledStory], genres: dict[str, str], context,
                    candidate: str = gc.CHOSEN, calibration: str = gc.CALIBRATION) -> tuple[Any, GenreEvaluation]:
    """Cross-validate (out-of-fold, before and after calibration), then fit the calibrated model on
    every story. Returns (fitted estimator, its record)."""
    from collections import Counter

    names = sorted(genres)
    frame = gc.feature_frame([s.text for s in stories], context, genres, candidate)
    est = gc.make_estimator(candidate, genres)
    before = score(gc.oof_probabilities(est, frame, stories, names), stories, names)
    after = score(gc.oof_probabilities(gc.calibrated(est, calibration), frame, stories, names), stories, names)
    t0 = time.perf_counter()
    fitted = gc.calibrated(est, calibration).fit(frame, [s.genre for s in stories])
    seconds = time.perf_counter() - t0
    record = GenreEvaluation(
        genres=names, n_train=len(stories), per_genre={g: sum(s.genre == g for s in stories) for g in names},
        sources=dict(sorted(Counter(s.group for s in stories).items())), candidate=candidate,
        calibration=calibration, cv_scheme=_cv_scheme(stories), cv=after, ece_before=before.ece,
        reliability_before=before.reliability, fit_seconds=round(seconds, 2))
    return fitted, record


def compare_candidates(stories, genres: dict[str, str], context) -> tuple[dict[str, CandidateScore], str]:
    """Every candidate's out-of-fold result (uncalibrated) and zero-shot's; the best by accuracy."""
    names = sorted(genres)
    frame = gc.feature_frame([s.text for s in stories], context, genres)
    out = {}
    for cand in gc.CANDIDATES:
        s = score(gc.oof_probabilities(gc.make_estimator(cand, genres), frame, stories, names), stories, names)
        out[cand] = CandidateScore(accuracy=s.accuracy, mixed_cue_accuracy=s.mixed_cue_accuracy, ece=s.ece)
    zs = zero_shot_probabilities(frame, names)
    s = score(zs, stories, names)
    out["zero-shot"] = CandidateScore(accuracy=s.accuracy, mixed_cue_accuracy=s.mixed_cue_accuracy, ece=s.ece)
    best = max(gc.CANDIDATES, key=lambda c: (round(out[c].accuracy, 6), c == "ensemble"))
    return out, best


def compare_calibrations(stories, genres, context, candidate: str) -> tuple[dict[str, float], str]:
    names = sorted(genres)
    frame = gc.feature_frame([s.text for s in stories], context, genres, candidate)
    est = gc.make_estimator(candidate, genres)
    out = {m: score(gc.oof_probabilities(gc.calibrated(est, m), frame, stories, names), stories, names).ece
           for m in CALIBRATIONS}
    return out, min(CALIBRATIONS[1:], key=lambda m: out[m])


ZERO_SHOT_TEMPERATURE = 0.02  # cosine differences between genres are small: a sharp softmax


def zero_shot_probabilities(frame, names: Sequence[str]):
    """Softmax over the similarity to each genre's description (no labelled stories needed)."""
    import numpy as np

    z = frame[[f"z{j}" for j in range(len(names))]].to_numpy() / ZERO_SHOT_TEMPERATURE
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


# ---------- docs/genre.md ----------

def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _confusion(lines, names, conf):
    lines += ["| true \\ predicted | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for g, row in zip(names, conf):
        lines.append(f"| {g} | " + " | ".join(map(str, row)) + " |")


def _reliability(lines, before, after):
    lines += ["| top probability | stories (before) | mean prob. (before) | accuracy (before) "
              "| stories (after) | mean prob. (after) | accuracy (after) |", "|---|" + "---:|" * 6]
    for b, a in zip(before, after):
        if b.n or a.n:
            lines.append(f"| {a.low:.1f}–{a.high:.1f} | {b.n} | {_pct(b.confidence)} | {_pct(b.accuracy)} "
                         f"| {a.n} | {_pct(a.confidence)} | {_pct(a.accuracy)} |")


def render_markdown(ev: GenreEvaluation) -> str:
    """docs/genre.md from the stored record (no numbers typed by hand)."""
    c = ev.cv
    chance = 1 / len(ev.genres)
    L = ["<!-- generated by scripts/genre_eval.py from evalkit/scorers/genre_corpus/evaluation.json; "
         "do not edit by hand -->", "", "## Genre adherence", "",
         f"Trained on {ev.n_train} labelled stories ("
         + ", ".join(f"{g}: {n}" for g, n in ev.per_genre.items()) + "; by writer: "
         + ", ".join(f"{g}: {n}" for g, n in ev.sources.items()) + "). "
         "The corpus' locked test part is never trained on. Candidates: logistic regressions on MiniLM "
         "story embeddings (`embed`), on TF-IDF word 1-2-grams (`tfidf`), on genre cues (`cues`: similarity "
         "to each genre's description, the zero-shot prior, plus cue-word rates from the descriptions), "
         "and their soft-voting `ensemble`; `zero-shot` needs no training. The best by out-of-fold accuracy "
         f"is used, `{ev.candidate}`, calibrated by scikit-learn's CalibratedClassifierCV with the method "
         f"of lowest out-of-fold ECE, `{ev.calibration}`. Cross-validation: {ev.cv_scheme}.", "",
         "### Choosing the model (out-of-fold, before calibration)", "",
         "| candidate | accuracy | mixed-cue accuracy | ECE |", "|---|---:|---:|---:|"]
    for name, s in ev.candidates.items():
        L.append(f"| {name}{' (used)' if name == ev.candidate else ''} | {_pct(s.accuracy)} "
                 f"| {_pct(s.mixed_cue_accuracy)} | {s.ece:.3f} |")
    if ev.calibration_ece:
        L += ["", "| calibration | out-of-fold ECE |", "|---|---:|"]
        L += [f"| {m}{' (used)' if m == ev.calibration else ''} | {e:.3f} |" for m, e in ev.calibration_ece.items()]
    L += ["", "### The model used, cross-validated", "",
          f"Accuracy {_pct(c.accuracy)} (Wilson 95% interval {_pct(c.accuracy_low)}–{_pct(c.accuracy_high)}, "
          f"{c.n} stories, chance {_pct(chance)}); mixed-cue stories {_pct(c.mixed_cue_accuracy)} "
          f"({c.n_mixed_cue} stories). Expected calibration error {c.ece:.3f} after calibration, "
          f"{ev.ece_before:.3f} before. Mean probability of the true genre: {c.mean_probability_true:.2f}.", "",
          "Confusion matrix (rows: true genre, columns: predicted):", ""]
    _confusion(L, ev.genres, c.confusion)
    L += ["", "Reliability table (top probability against how often the top genre is right):", ""]
    _reliability(L, ev.reliability_before, c.reliability)
    t = ev.locked_test
    if t is not None:
        L += ["", "### Locked test part (scored once, never tuned on)", "",
              f"Accuracy {_pct(t.accuracy)} (Wilson 95% interval {_pct(t.accuracy_low)}–{_pct(t.accuracy_high)}, "
              f"{t.n} stories); mixed-cue stories {_pct(t.mixed_cue_accuracy)} "
              f"({_pct(t.mixed_cue_low)}–{_pct(t.mixed_cue_high)}, {t.n_mixed_cue} stories); ECE {t.ece:.3f}; "
              f"mean probability of the true genre {t.mean_probability_true:.2f}.", ""]
        _confusion(L, ev.genres, t.confusion)
    if ev.first_use_seconds is not None:
        feats = ("the text only (no sentence embeddings)" if ev.candidate == "tfidf"
                 else "MiniLM sentence embeddings and the text")
        L += ["", "### Speed", "",
              f"The model reads {feats}. Fitting it at first use (out-of-fold record included, "
              f"{ev.n_train} stories) took {ev.first_use_seconds:.1f} s and scoring 100 stories "
              f"{ev.score_100_seconds:.1f} s, on 2 shared cores at load average {ev.timing_load:.1f}. "
              "The fitted model is cached on disk under a hash of its training stories, so later runs "
              "load it instead of refitting."]
    L += ["", "### What to make of the row", "",
          "`genre_adherence` is the calibrated probability that a story is in the genre it was asked "
          "for: 0.8 means that among stories given 0.8, about four in five are in that genre. "
          f"A story the classifier cannot place gets about {_pct(chance)} for every genre, so a mean "
          "near that says \"can't tell\", not \"on genre\". "
          f"Per story the top genre is wrong about {_pct(1 - c.accuracy)} of the time in cross-validation "
          + ("(more often for stories that borrow another genre's surface)"
             if (c.mixed_cue_accuracy or 0) < c.accuracy else
             "(stories that borrow another genre's surface did no worse)")
          + ", so compare models on the mean "
          "over many stories, not on one story. These are written stories; generated ones may be harder. "
          "Each score's note begins `calibrated:` when it comes from this calibrated classifier and "
          "`uncalibrated:` when it comes from the zero-shot fallback (a suite whose genres have too few "
          "labelled stories), whose numbers are similarity ranks, not probabilities "
          "(`evalkit.scorers.genre.GenreModel.calibrated` in code).",
          ""]
    return "\n".join(L)
