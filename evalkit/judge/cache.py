"""Judge calls cached like generations: <results>/.cache/judge/<judge fingerprint>.jsonl.

One line per answered question, appended per batch under a lock (records.append_new: none whose key
the file already holds, so two runs asking the same questions at once store each answer once), so a
run killed with kill -9 keeps every finished batch and a rerun asks only what is missing. Unanswered
questions (server down, unreadable answers) are not cached: the next run asks them again. A torn,
foreign or hand-edited line (its checksum does not match) is skipped with one warning line naming
file:line, asked again, and the file rewritten without it (records.read_cache)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import Field

from evalkit.records import Record, append_new, read_cache, stable_hash

JUDGE_CACHE_SCHEMA = 1


class JudgeRecord(Record):
    """One question put to the judge and its answer."""

    key: str = Field(description="cache key: judge, engine, rubric, prompt, story hashes and order")
    judge_key: str = Field(description="fingerprint of the judge model")
    kind: Literal["rating", "pairwise"] = Field(description="a 1-5 rating of one story, or a choice between two")
    rubric: str = Field(description="rubric name")
    rubric_hash: str = Field(description="digest of the rubric's wording")
    story_hash: str = Field(description="hash of the story text (pairwise: 'first:second', in the order shown)")
    order: str | None = Field(None, description="pairwise: the order first asked for, e.g. 'a>b' (A's story first)")
    value: float | None = Field(description="expected rating 1-5, or the probability the first story is preferred")
    method: str = Field(description="logits, logprobs or sampled_mean: where the number came from")
    probs: dict[str, float] | None = Field(None, description="the answers' probabilities (sampled: their shares)")
    coverage: float | None = Field(None, description="probability mass on the answers before renormalising")
    n_samples: int | None = Field(None, description="sampled_mean: readable answers averaged")
    raw: str = Field("", description="the judge's text, when it wrote any")
    note: str | None = Field(None, description="why the value is missing, or how it was obtained")
    schema_version: int = Field(JUDGE_CACHE_SCHEMA, alias="schema", description="layout version of this record")
    check: str | None = Field(None, description="digest of the answer (absent in records of older evalkit)")

    def digest(self) -> str:
        return stable_hash({"key": self.key, "value": self.value, "probs": self.probs, "method": self.method})


def question_key(judge_key: str, engine: str, rubric_hash: str, prompt_text: str, story_hash: str,
                 order: str | None) -> str:
    return stable_hash({"judge": judge_key, "engine": engine, "rubric": rubric_hash,
                        "prompt": stable_hash(prompt_text, 24), "story": story_hash, "order": order}, 24)


def text_hash(text: str) -> str:
    return stable_hash(text, 16)


class JudgeCache:
    def __init__(self, cache_dir: str | Path | None, judge_key: str):
        self.judge_key = judge_key
        self.path = Path(cache_dir) / "judge" / f"{judge_key}.jsonl" if cache_dir is not None else None
        self.records: dict[str, JudgeRecord] = {}
        if self.path is not None:
            for r in read_cache(self.path, JudgeRecord, self._refuse):
                if r.value is not None:
                    self.records[r.key] = r

    def _refuse(self, r: JudgeRecord) -> str | None:
        if r.judge_key != self.judge_key:
            return f"an answer of another judge ({r.judge_key})"
        if r.check is not None and r.check != r.digest():
            return "its answer does not match its checksum: edited by hand"
        return None

    def get(self, key: str) -> JudgeRecord | None:
        return self.records.get(key)

    def add(self, records: Iterable[JudgeRecord]) -> None:
        ok = [r for r in records if r.value is not None]
        for r in ok:
            r.check = r.digest()
            self.records[r.key] = r
        if self.path is not None and ok:
            append_new(self.path, ok)
