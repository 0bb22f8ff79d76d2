"""Coherence: would a reader find that the sentences follow from one another and stay on the prompt (higher = better)?

The number (0-1, higher is more coherent; 0.5 = an average HANNA machine story) is a ridge
combination of measured parts, fitted to HANNA's human Coherence ratings with the penalty chosen by
cross-validation grouped by prompt; docs/metrics.md reports its cross-validated agreement with people
(the headline) next to the in-sample figure of the shipped weights. The parts:

- fluency: the scoring LM's mean token log-likelihood of the story's opening (up to HEAD_TOKENS tokens);
- order: nats per sentence the LM loses when those sentences are shuffled (a fixed shuffle of the
  sorted sentences, so a story and any reordering of it share one baseline; a loop loses nothing);
- variety: distinct-2 (looping, the most likely text to an LM, is the least coherent to people);
- prompt focus: the highest MiniLM similarity of any sentence of the story to the prompt (the story
  takes the prompt up somewhere; at the mean without a prompt);
- well-formed: the share of sentences that open with a capital letter or a digit.

Two more parts are measured and reported but stay out of the mix: relevance (MiniLM similarity of the
whole story to the prompt, which prompt focus measures better) and adjacent-sentence similarity over the
opening (in the mix it took a negative weight, which rewards shuffled text: the ROCStories shuffle test
fell from 85% to 81%). Entity continuity (sentences reusing a content word of the two before) was
measured and dropped: its τ with people's Coherence on HANNA is negative, and it added nothing to the mix.

The LM is SmolLM2-135M unless the scoring option ``lm.path`` names another (see scorers/lm.py): a run
whose candidates include the scoring LM must choose another, or its stories grade themselves.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.profiles import read_profile
from evalkit.scorers.base import Metric, Scorer, ScoringContext, StoryInput, StoryScores
from evalkit.scorers.repetition import distinct_n
from evalkit.scorers.text import clean, sentences, words

HEAD_TOKENS = 160  # LM window: the opening sentences up to this many tokens (bounds the cost)
MIN_WORDS = 3
# part: (weight, mean, sd): the refit of cv:coherence:Coherence on HANNA's 480 machine stories, written by
# `python -m evalkit.validate.ship` from `evalkit validate hanna_dev.csv --cv 5` (penalty chosen by grouped CV)
PARTS: dict[str, tuple[float, float, float]] = {
    "coherence_fluency": (+0.0723, -3.4777, 0.6967),
    "coherence_order": (+0.0248, 1.9241, 1.5525),
    "coherence_variety": (+0.2876, 0.8723, 0.1491),
    "coherence_prompt_focus": (+0.1634, 0.3680, 0.1399),
    "coherence_wellformed": (+0.0621, 0.7388, 0.3891),
}
SCALE = 0.3076  # coherence = sigmoid(sum w_i z_i / SCALE); ship writes the sd of sum w_i z_i over the fitted stories


def canonical_shuffle(sents: Sequence[str]) -> list[str]:
    """A fixed non-identity permutation of the SORTED sentences, seeded by their content: every
    ordering of the same sentences gets the same shuffled baseline."""
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


@dataclass
class Prepared:
    text: str
    sents: list[str]
    head: list[str]


_OPENERS = "\"'“‘([*-— "


def well_formed(sents: Sequence[str]) -> float | None:
    """Share of sentences that open as a sentence does (a capital letter or a digit after any opening
    quote): lower-cased runs and fragments cut mid-sentence read as broken text."""
    heads = [s.lstrip(_OPENERS)[:1] for s in sents]
    heads = [h for h in heads if h]
    return sum(h.isupper() or h.isdigit() for h in heads) / len(heads) if heads else None


def combine(parts: dict[str, float | None], norms: dict[str, tuple[float, float]] | None = None) -> float | None:
    """sigmoid(sum w_i z_i / SCALE): 0.5 is an average HANNA machine story, ~0.73 one sd better.
    ``norms``: (mean, sd) of the LM parts measured by another scoring LM on the same HANNA stories
    (lm_norms), so z means the same whichever LM read the story."""
    num = 0.0
    for name, (w, mu, sd) in PARTS.items():
        if norms and name in norms:
            mu, sd = norms[name]
        v = parts.get(name)
        if v is None or not math.isfinite(v):
            continue  # a part that cannot be measured (no prompt, one sentence) sits at the mean
        num += w * (v - mu) / sd
    if parts.get("coherence_fluency") is None:
        return None
    return 1.0 / (1.0 + math.exp(-num / SCALE))


LM_PARTS = ("coherence_fluency", "coherence_order")  # the parts whose scale depends on the scoring LM
LM_NORMS_FILE = Path(__file__).with_name("coherence_lm_norms.json")  # written by scripts/fit_lm_norms.py


@functools.lru_cache(maxsize=4)
def _norms_table(path: str, mtime_ns: int) -> dict[str, Any]:
    """The norms file, read once per version (derive runs on every story)."""
    import json

    return json.loads(Path(path).read_text(encoding="utf-8")) if mtime_ns else {}


def lm_norms(context: ScoringContext | None) -> dict[str, tuple[float, float]] | None:
    """(mean, sd) of the LM parts for the scoring LM of ``context``: its calibration profile's when the
    options name one (``lm.profile``), else, when it is not the LM PARTS were standardized with (SmolLM2),
    measured by scripts/fit_lm_norms.py on the same HANNA machine stories,
    found by the LM's weights fingerprint. None for SmolLM2. An LM with no stored norms raises
    LookupError (the caller falls back to SmolLM2's norms and says so in the story's note)."""
    from evalkit.scorers.lm import lm_fingerprint

    if context is None:
        return None
    profile = (context.options.get("lm") or {}).get("profile")
    if profile:  # the reader's calibration profile (evalkit.profiles) measured its own norms
        return {k: (float(mu), float(sd)) for k, (mu, sd) in read_profile(profile).norms.items()}
    fp = lm_fingerprint(context)
    if fp is None:  # the default SmolLM2: PARTS are its norms
        return None
    entry = _norms_table(str(LM_NORMS_FILE), LM_NORMS_FILE.stat().st_mtime_ns if LM_NORMS_FILE.is_file() else 0).get(fp)
    if entry is None:
        raise LookupError(f"no HANNA norms for scoring LM {fp} (run scripts/fit_lm_norms.py with it)")
    return {k: (float(v[0]), float(v[1])) for k, v in entry["parts"].items()}


class CoherenceScorer(Scorer):
    name = "coherence"
    version = "3"  # the measured parts; the weights live in PARTS and are applied by derive (no rescoring)
    fitted_on = "hanna_dev.csv"
    derived = ("coherence",)
    mix_parts = tuple(PARTS)  # what `evalkit validate --cv` fits (cv:coherence) and ship writes back
    uses_lm = True  # the run picks a scoring LM no candidate is built on (pipeline.RunContext.scoring)

    def cache_identity(self, context: ScoringContext) -> str:
        from evalkit.scorers.lm import lm_identity

        return f"{self.version};lm={lm_identity(context)}"
    metrics = (
        Metric("coherence", "higher", 0.0, 1.0, "combined coherence (LM fluency and sentence order, variety, prompt focus, well-formed sentences)"),
        Metric("coherence_fluency", "higher", None, 0.0, "the scoring LM's mean token log-likelihood of the opening (nats)"),
        Metric("coherence_order", "higher", None, None, "LM nats per sentence lost when the opening's sentences are shuffled"),
        Metric("coherence_relevance", "higher", -1.0, 1.0,
               "MiniLM cosine similarity of story and prompt (reported; prompt focus stands for it in the mix)"),
        Metric("coherence_adjacent", "none", -1.0, 1.0,
               "mean MiniLM similarity of adjacent sentences of the opening (reported, not in the mix)"),
        Metric("coherence_variety", "higher", 0.0, 1.0, "distinct-2 of the story: looping text is not coherent to people"),
        Metric("coherence_prompt_focus", "higher", -1.0, 1.0,
               "the highest MiniLM cosine similarity of a sentence of the story to the prompt"),
        Metric("coherence_wellformed", "higher", 0.0, 1.0,
               "share of sentences that open with a capital letter or a digit (after any opening quote)"),
    )

    def score(self, stories: Sequence[StoryInput], context: ScoringContext) -> list[StoryScores]:
        import numpy as np

        out = [StoryScores() for _ in stories]
        prepared: dict[int, Prepared] = {}
        for i, s in enumerate(stories):
            text = clean(s.text)
            n = len(words(text))
            if n < MIN_WORDS:
                out[i].values = {m.name: None for m in self.metrics}
                out[i].notes = {m.name: f"not scorable: {n} word(s)" for m in self.metrics}
            else:
                prepared[i] = Prepared(text, sentences(text), [])
        if not prepared:
            return out
        try:
            from evalkit.scorers.lm import get_lm

            lm = get_lm(context)
        except Exception as e:  # no LM here: say so on every story, never stop the run
            why = f"not scorable: scoring LM unavailable ({type(e).__name__}: {e})"[:300]
            for i in prepared:
                out[i].values = {m.name: None for m in self.metrics}
                out[i].notes = {m.name: why for m in self.metrics}
            return out
        for p in prepared.values():
            p.head = head_sentences(p.sents, lambda t: len(lm.tokenizer(t, add_special_tokens=False).input_ids))
        idx = list(prepared)
        heads = [" ".join(prepared[i].head) for i in idx]
        shuffles = [" ".join(canonical_shuffle(prepared[i].head)) for i in idx]
        todo = list(dict.fromkeys(heads + shuffles))  # a loop's shuffle is often itself: score it once
        lps = dict(zip(todo, lm.logprobs(todo)))
        emb_texts = [prepared[i].text for i in idx]
        prompts = {i: clean(stories[i].prompt) for i in idx if clean(stories[i].prompt)}
        story_emb = dict(zip(idx, context.embed(emb_texts)))
        prompt_emb = dict(zip(prompts, context.embed(list(prompts.values())))) if prompts else {}
        # one batched pass for the adjacent part (the opening) and the prompt focus (every sentence)
        context.embed([s for i in idx for s in (prepared[i].sents if i in prompt_emb else prepared[i].head)])
        for i, h, sh in zip(idx, heads, shuffles):
            p = prepared[i]
            lp, lp_shuf = lps[h], lps[sh]
            parts: dict[str, float | None] = {
                "coherence_fluency": float(lp.mean()) if lp.size else None,
                "coherence_order": float(lp.sum() - lp_shuf.sum()) / len(p.head) if len(p.head) > 1 else None,
                "coherence_relevance": float(story_emb[i] @ prompt_emb[i]) if i in prompt_emb else None,
                "coherence_adjacent": None,
                "coherence_variety": distinct_n(words(p.text), 2),
                "coherence_prompt_focus": (float(np.max(context.embed(p.sents) @ prompt_emb[i]))
                                           if i in prompt_emb and p.sents else None),
                "coherence_wellformed": well_formed(p.sents),
            }
            if len(p.head) > 1:  # the opening the LM reads: bounds the cost on long stories
                e = context.embed(p.head)
                parts["coherence_adjacent"] = float(np.mean(np.sum(e[:-1] * e[1:], axis=1)))
            r = out[i]
            r.values = dict(parts)
            self.derive(r.values, r.notes, context)
            if parts["coherence_order"] is None:
                r.notes["coherence_order"] = "one sentence: no order to measure"
            if parts["coherence_relevance"] is None:
                r.notes["coherence_relevance"] = "no prompt given"
                r.notes["coherence_prompt_focus"] = "no prompt given: left out of coherence"
            if parts["coherence_adjacent"] is None:
                r.notes["coherence_adjacent"] = "one sentence: no adjacent pair"
        return out

    def derive(self, values: dict[str, float | None], notes: dict[str, str], context: ScoringContext | None = None) -> None:
        """coherence from the measured parts and the shipped weights (recomputed on cache hits), the LM
        parts standardized with the norms of the LM that measured them."""
        if "coherence_fluency" not in values:
            return  # not scorable: nothing was measured
        try:
            norms = lm_norms(context)
        except LookupError as e:  # another LM's scale, read with SmolLM2's norms: say so
            norms = None
            notes["coherence"] = f"{e}: its LM parts are standardized with SmolLM2's norms"
        values["coherence"] = combine(values, norms)
        if values["coherence"] is None and not notes.get("coherence", "").startswith("not scorable"):
            notes["coherence"] = "not scorable: no LM fluency"  # keeps a stored reason (a cache hit: "0 word(s)")
