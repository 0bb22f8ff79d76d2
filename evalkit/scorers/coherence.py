"""Coherence: would a reader find that the sentences hold together, in this order (higher = better)?

The number (0-1) is defined by design, nothing in it fitted to human ratings:

    coherence = sigmoid(order) * (1 - loop)

- order: the order reader's judgement (evalkit/scorers/reader, model card docs/reader.md), a small network
  trained only to tell children's stories from corrupted copies of themselves (shuffled, block-shuffled,
  swapped, a foreign sentence put in, a sentence dropped, a sentence repeated); its score over the story's
  MiniLM sentence embeddings, standardized with the mean and sd of its scores on unrated TinyStories stories
  it never saw (0 = a typical one of them, where sigmoid(order) = 0.5);
- loop: the repetition penalty, the larger of the share of the story's words in a loop that runs to its
  end and the share of sentences that repeat an earlier one (scorers/repetition.py): a story that loops
  over most of its length gets close to 0 however well its sentences connect.

HANNA's ratings serve only the star calibration (evalkit/calibrations/hanna-coherence.json, a monotone map
fitted by grouped cross-validation) and validation (docs/metrics.md). Reported beside it, not in it:
variety (distinct-2), prompt focus (the highest MiniLM similarity of a sentence to the prompt),
well-formed sentences (the share that open with a capital letter or a digit), and, only when the run names
a scoring LM (``lm.path``, see scorers/lm.py), that LM's fluency and order over the story's opening.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence

from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.repetition import distinct_n, loop_share, repeated_sentence_share
from evalkit.scorers.text import clean, sentences, words

MIN_WORDS = 3
MIN_SENTENCES = 2  # one sentence has no order to judge
HEAD_TOKENS = 160  # a named scoring LM reads the opening sentences up to this many tokens (bounds the cost)
LM_METRICS = ("coherence_fluency", "coherence_lm_order")
_OPENERS = "\"'“‘([*-— "


def well_formed(sents: Sequence[str]) -> float | None:
    """Share of sentences that open as a sentence does (a capital letter or a digit after any opening
    quote): lower-cased runs and fragments cut mid-sentence read as broken text."""
    heads = [s.lstrip(_OPENERS)[:1] for s in sents]
    heads = [h for h in heads if h]
    return sum(h.isupper() or h.isdigit() for h in heads) / len(heads) if heads else None


def loop_penalty(tokens: list[str], sents: list[str]) -> float:
    """The larger of the looped share of words and the repeated share of sentences (0 = no repetition)."""
    return max(loop_share(tokens, sents), repeated_sentence_share(sents) or 0.0)


def combine(order: float | None, loop: float | None) -> float | None:
    """sigmoid(order) * (1 - loop): the fixed rule of the module docstring; None without an order."""
    if order is None or not math.isfinite(order):
        return None
    return (1.0 / (1.0 + math.exp(-order))) * (1.0 - min(1.0, max(0.0, loop or 0.0)))


def canonical_shuffle(sents: Sequence[str]) -> list[str]:
    """A fixed non-identity permutation of the SORTED sentences, seeded by their content: every
    ordering of the same sentences gets the same shuffled baseline (the LM order diagnostic)."""
    key = sorted(sents)
    if len(set(key)) < 2:
        return list(sents)
    rng = random.Random(hashlib.sha256("\n".join(key).encode("utf-8")).hexdigest())
    perm = list(range(len(key)))
    for _ in range(50):
        rng.shuffle(perm)
        cand = [key[i] for i in perm]
        if cand != key:
            return cand
    return key[1:] + key[:1]


def head_sentences(sents: Sequence[str], count_tokens, budget: int = HEAD_TOKENS) -> list[str]:
    """The opening sentences that fit in ``budget`` LM tokens (at least one)."""
    out, n = [], 0
    for s in sents:
        k = count_tokens(" " + s)
        if out and n + k > budget:
            break
        out.append(s)
        n += k
    return out


def named_lm(context: ScoringContext) -> bool:
    """True when the run names a scoring LM (``lm.path``): only then are the LM diagnostics measured."""
    return bool((context.options.get("lm") or {}).get("path"))


class CoherenceScorer(Scorer):
    name = "coherence"
    version = "4"  # the order reader and the loop penalty; the reader's weights are in cache_identity
    derived = ("coherence",)
    mix_parts = ("coherence_order", "coherence_loop")  # validate --cv: what a fitted mix of the same parts does
    uses_lm = True  # a run still picks a scoring LM no candidate is built on, for the LM diagnostics it names

    def cache_identity(self, context: ScoringContext) -> str:
        from evalkit.scorers.reader import load_reader

        try:
            reader = load_reader().record.get("weights_sha256", "?")[:12]
        except Exception as e:  # scored as not scorable with the reason; keyed apart from a real reader
            reader = f"unavailable:{type(e).__name__}"
        if named_lm(context):
            from evalkit.scorers.lm import lm_identity

            return f"{self.version};reader={reader};lm={lm_identity(context)}"
        return f"{self.version};reader={reader}"

    metrics = (
        Metric("coherence", "higher", 0.0, 1.0, "sigmoid(order reader) x (1 - loop penalty): the sentences hold together in order"),
        Metric("coherence_order", "higher", None, None,
               "the order reader's judgement, standardized on unrated children's stories (0 = typical)"),
        Metric("coherence_loop", "lower", 0.0, 1.0,
               "repetition penalty: the larger of the looped share of words and the repeated share of sentences"),
        Metric("coherence_variety", "higher", 0.0, 1.0, "distinct-2 of the story (reported, not in the score)"),
        Metric("coherence_prompt_focus", "higher", -1.0, 1.0,
               "the highest MiniLM cosine similarity of a sentence of the story to the prompt (reported)"),
        Metric("coherence_wellformed", "higher", 0.0, 1.0,
               "share of sentences that open with a capital letter or a digit, after any opening quote (reported)"),
        Metric("coherence_fluency", "higher", None, 0.0,
               "a named scoring LM's mean token log-likelihood of the opening (nats; reported, only with lm.path)"),
        Metric("coherence_lm_order", "higher", None, None,
               "nats per sentence a named scoring LM loses when the opening is shuffled (reported, only with lm.path)"),
    )

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        import numpy as np

        out = [StoryScores() for _ in stories]
        todo: dict[int, tuple[str, list[str]]] = {}
        for i, s in enumerate(stories):
            text = clean(s.text)
            n = len(words(text))
            if n < MIN_WORDS:
                out[i].values = {m.name: None for m in self.metrics}
                out[i].notes = {m.name: f"not scorable: {n} word(s)" for m in self.metrics}
            else:
                todo[i] = (text, sentences(text))
        if not todo:
            return out
        try:
            from evalkit.scorers.reader import load_reader

            reader = load_reader()
        except Exception as e:  # no reader here: say so on every story, never stop the run
            why = f"not scorable: order reader unavailable ({type(e).__name__}: {e})"[:300]
            for i in todo:
                out[i].values = {m.name: None for m in self.metrics}
                out[i].notes = {m.name: why for m in self.metrics}
            return out
        idx = list(todo)
        prompts = {i: clean(stories[i].prompt) for i in idx if clean(stories[i].prompt)}
        prompt_emb = dict(zip(prompts, context.embed(list(prompts.values())))) if prompts else {}
        context.embed([s for i in idx for s in todo[i][1]])  # every sentence in one batched pass
        emb = {i: context.embed(todo[i][1]) for i in idx}
        readable = [i for i in idx if len(todo[i][1]) >= MIN_SENTENCES]
        norms = reader.record["norms"]
        raw = dict(zip(readable, reader.score([emb[i] for i in readable])))
        lm_parts = self._lm_parts({i: todo[i][1] for i in idx}, context) if named_lm(context) else {}
        for i in idx:
            text, sents = todo[i]
            toks = words(text)
            r = out[i]
            r.values = {
                "coherence_order": (raw[i] - norms["mean"]) / norms["sd"] if i in raw else None,
                "coherence_loop": loop_penalty(toks, sents),
                "coherence_variety": distinct_n(toks, 2),
                "coherence_prompt_focus": float(np.max(emb[i] @ prompt_emb[i])) if i in prompt_emb else None,
                "coherence_wellformed": well_formed(sents),
                **{m: None for m in LM_METRICS},
                **lm_parts.get(i, {}),
            }
            if i not in raw:
                r.notes["coherence_order"] = f"not scorable: {len(sents)} sentence(s), too short to reorder"
            if i not in prompt_emb:
                r.notes["coherence_prompt_focus"] = "no prompt given"
            if "error" in lm_parts:
                r.notes.update({m: lm_parts["error"] for m in LM_METRICS})
            elif not named_lm(context):
                r.notes.update({m: "not measured: no scoring LM named (lm.path)" for m in LM_METRICS})
            self.derive(r.values, r.notes, context)
        return out

    def _lm_parts(self, sents: dict[int, list[str]], context: ScoringContext) -> dict:
        """The named LM's fluency and order over each story's opening ({"error": why} when it cannot load)."""
        try:
            from evalkit.scorers.lm import get_lm

            lm = get_lm(context)
        except Exception as e:  # the diagnostics say why; the score does not need them
            return {"error": f"not measured: scoring LM unavailable ({type(e).__name__}: {e})"[:300]}
        heads = {i: head_sentences(s, lambda t: len(lm.tokenizer(t, add_special_tokens=False).input_ids))
                 for i, s in sents.items()}
        texts = {i: (" ".join(h), " ".join(canonical_shuffle(h))) for i, h in heads.items()}
        todo = list(dict.fromkeys(t for pair in texts.values() for t in pair))
        lps = dict(zip(todo, lm.logprobs(todo)))
        out = {}
        for i, (h, sh) in texts.items():
            lp, n = lps[h], len(heads[i])
            out[i] = {"coherence_fluency": float(lp.mean()) if lp.size else None,
                      "coherence_lm_order": float(lp.sum() - lps[sh].sum()) / n if n > 1 else None}
        return out

    def derive(self, values: dict[str, float | None], notes: dict[str, str], context: ScoringContext | None = None) -> None:
        """coherence from the reader's order and the loop penalty (recomputed on cache hits)."""
        if "coherence_order" not in values:
            return  # not scorable: nothing was measured
        values["coherence"] = combine(values["coherence_order"], values.get("coherence_loop"))
        if values["coherence"] is None and not notes.get("coherence", "").startswith("not scorable"):
            notes["coherence"] = notes.get("coherence_order", "not scorable: no order judgement")
