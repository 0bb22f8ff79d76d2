"""Creativity: would a reader find the story surprising, and is it the model's own (higher = better)?

The number (0-1, higher is more creative) is a reader-facing part times a copying penalty:

- surprise = sigmoid(sum of weighted, standardized parts / scale), the parts being lexical variety
  within the story (distinct-2, MTLD) and diversity across the model's other stories (1 - self-BLEU,
  bigram types no other story uses). The weights are a ridge fit to HANNA's human Surprise ratings,
  chosen by cross-validation grouped by prompt (docs/metrics.md reports the cross-validated agreement);
  0.5 is an average HANNA machine story.
- novelty against the suite's train stories: the share of the story's 4-grams no train story contains
  multiplies the surprise part, so a copied train story gets 0 and a looping story (no variety) scores
  low whatever its novelty. Without train stories novelty is measured against the suite's reference
  stories; without a suite there is no penalty (the note says so).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.repetition import distinct_n
from evalkit.scorers.text import clean, ngrams, words
from evalkit.scorers.vocabulary import MIN_WORDS as MTLD_MIN
from evalkit.scorers.vocabulary import mtld

MIN_WORDS = 5
# part: (weight, mean, sd) of the surprise part; weights and scale from `evalkit validate hanna_dev.csv --cv 5`
# (the refit of cv:creativity:Surprise on HANNA's machine stories; see docs/metrics.md)
SURPRISE_PARTS: dict[str, tuple[float, float, float]] = {
    "self_bleu": (-0.0594, 0.1667, 0.0863),
    "distinct_2_across": (-0.0253, 0.6551, 0.0895),
    "creativity_variety": (+0.1171, 0.8723, 0.1491),
    "creativity_mtld": (+0.0404, 65.2221, 36.3012),
}
SURPRISE_SCALE = 0.1584


def surprise(values: dict[str, float | None]) -> float | None:
    import math

    num, seen = 0.0, 0
    for name, (w, mu, sd) in SURPRISE_PARTS.items():
        v = values.get(name)
        if v is None or not math.isfinite(v):
            continue  # not measurable (one story, no suite): sits at the mean
        num += w * (v - mu) / sd
        seen += 1
    return 1.0 / (1.0 + math.exp(-num / SURPRISE_SCALE)) if seen else None


class _LeaveOneOutRefs:
    """Reference n-gram counts of every story but one: the max count over the others, read from each
    n-gram's two highest counts, so n stories cost n extractions instead of n*(n-1)."""

    def __init__(self, top: dict, skip: int):
        self.top, self.skip = top, skip

    def __contains__(self, gram) -> bool:
        return self.get(gram) > 0

    def __getitem__(self, gram) -> int:
        return self.get(gram)

    def get(self, gram, default: int = 0) -> int:
        entry = self.top.get(gram)
        if entry is None:
            return default
        (c1, i1), (c2, _) = entry
        return c2 if i1 == self.skip else c1


def self_bleu(texts: Sequence[str]) -> list[float | None]:
    """Per story: sacrebleu sentence BLEU (0..1) of the story against all the other stories."""
    from sacrebleu.metrics import BLEU
    from sacrebleu.metrics.helpers import extract_all_word_ngrams

    bleu = BLEU(effective_order=True)
    prep = [bleu._preprocess_segment(t) for t in texts]
    extracted = [extract_all_word_ngrams(p, 1, bleu.max_ngram_order) for p in prep]
    top: dict = {}
    for i, (grams, _) in enumerate(extracted):
        for g, c in grams.items():
            e = top.get(g)
            if e is None:
                top[g] = ((c, i), (0, -1))
            elif c > e[0][0]:
                top[g] = ((c, i), e[0])
            elif c > e[1][0]:
                top[g] = (e[0], (c, i))
    lens = [n for _, n in extracted]
    out: list[float | None] = []
    for i, p in enumerate(prep):
        if len(texts) < 2 or lens[i] == 0:
            out.append(None)
            continue
        refs = {"ref_ngrams": _LeaveOneOutRefs(top, i), "ref_lens": lens[:i] + lens[i + 1:]}
        stats = bleu._compute_segment_statistics(p, refs)
        out.append(bleu._compute_score_from_stats(stats).score / 100.0)
    return out


def distinct_across(token_lists: Sequence[list[str]], n: int = 2) -> list[float | None]:
    """Per story: share of its n-gram types that no other story of the set uses."""
    sets = [set(ngrams(t, n)) for t in token_lists]
    df = Counter(g for s in sets for g in s)
    return [sum(df[g] == 1 for g in s) / len(s) if s and len(sets) > 1 else None for s in sets]


def novelty(tokens: list[str], train_grams: set, n: int = 4) -> float | None:
    grams = ngrams(tokens, n)
    return sum(g not in train_grams for g in grams) / len(grams) if grams else None


def _train_corpus(context: ScoringContext) -> tuple[list[str], str]:
    suite = context.suite
    if suite is None:
        return [], "no suite: novelty needs the suite's train stories"
    train = [i.story for i in suite.items if i.split == "train"]
    if train:
        return train, ""
    return [i.story for i in suite.items], f"suite {suite.name!r} has no train split: novelty against all its reference stories"


class CreativityScorer(Scorer):
    """See the module docstring: surprise part x novelty against the train stories."""

    name = "creativity"
    version = "2"
    fitted_on = "hanna_dev.csv"
    derived = ("creativity", "creativity_surprise")
    mix_parts = tuple(SURPRISE_PARTS)  # what `evalkit validate --cv` fits (cv:creativity) and ship writes back
    corpus = True  # self-BLEU and distinct-2 across compare a story with its model's other stories
    metrics = (
        Metric("creativity", "higher", 0.0, 1.0, "surprise (fitted to HANNA Surprise) x novelty_4gram against the train stories"),
        Metric("novelty_4gram", "higher", 0.0, 1.0, "share of the story's 4-grams found in no train story"),
        Metric("max_train_similarity", "lower", -1.0, 1.0, "highest MiniLM cosine similarity to any train story"),
        Metric("self_bleu", "lower", 0.0, 1.0, "BLEU of the story against the model's other stories (sacrebleu)"),
        Metric("distinct_2_across", "higher", 0.0, 1.0, "share of the story's bigram types used by no other story of the model"),
        Metric("creativity_variety", "higher", 0.0, 1.0, "distinct-2 within the story (a loop has none)"),
        Metric("creativity_mtld", "higher", 0.0, None, "MTLD lexical diversity of the story"),
        Metric("creativity_surprise", "higher", 0.0, 1.0, "the surprise part before the copying penalty"),
    )

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        texts = [clean(s.text) for s in stories]
        toks = [words(t) for t in texts]
        train, train_note = _train_corpus(context)
        key = ("creativity_train", context.suite.hash if context.suite is not None else "")
        grams = context.shared.get(key)
        if grams is None:
            grams = {g for t in train for g in ngrams(words(clean(t)), 4)}
            context.shared[key] = grams
        ok = [i for i, t in enumerate(toks) if len(t) >= MIN_WORDS]
        sim: dict[int, float] = {}
        if train and ok:
            e = context.embed([texts[i] for i in ok])
            tr = context.embed([clean(t) for t in train])
            for i, v in zip(ok, (e @ tr.T).max(axis=1)):
                sim[i] = float(v)
        sb = self_bleu([texts[i] for i in ok]) if ok else []
        da = distinct_across([toks[i] for i in ok]) if ok else []
        div = {i: (b, d) for i, b, d in zip(ok, sb, da)}
        out = []
        for i, t in enumerate(toks):
            r = StoryScores()
            if i not in div:
                r.values = {m.name: None for m in self.metrics}
                r.notes = {m.name: f"not scorable: {len(t)} word(s)" for m in self.metrics}
                out.append(r)
                continue
            nov = novelty(t, grams) if train else None
            b, d = div[i]
            r.values = {"novelty_4gram": nov, "max_train_similarity": sim.get(i), "self_bleu": b, "distinct_2_across": d,
                        "creativity_variety": distinct_n(t, 2), "creativity_mtld": mtld(t) if len(t) >= MTLD_MIN else None}
            if not train:
                r.notes["novelty_4gram"] = r.notes["max_train_similarity"] = train_note
                r.notes["creativity"] = f"no copying penalty: {train_note}"
            elif train_note:
                r.notes["novelty_4gram"] = train_note
            if b is None:
                r.notes["self_bleu"] = r.notes["distinct_2_across"] = "not scorable: diversity needs 2+ stories of one model"
            self.derive(r.values, r.notes)
            out.append(r)
        return out

    def derive(self, values: dict[str, float | None], notes: dict[str, str], context: ScoringContext | None = None) -> None:
        """creativity from the measured parts and the shipped weights (recomputed on cache hits)."""
        if "self_bleu" not in values:
            return
        part = surprise(values)
        values["creativity_surprise"] = part
        nov = values.get("novelty_4gram")
        values["creativity"] = None if part is None else part * (nov if nov is not None else 1.0)
        if part is None:
            notes["creativity"] = "not scorable: no variety or diversity part"
