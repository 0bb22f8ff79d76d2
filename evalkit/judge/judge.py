"""The judge: a loaded evalkit model, an engine that reads its answers, and the judge-call cache.

``configure_judge(MODEL)`` resolves any model argument (preset, folder, .gguf, ``openai``/models-file
server, ``llamacpp:``) with the same registry as candidates, loads it, and raises EvalkitError before
any work when it cannot run. The scorer, the pairwise comparison and validation ask through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.judge.cache import JudgeCache, JudgeRecord, question_key, text_hash
from evalkit.judge.engines import DEFAULT_SAMPLES, Engine, Verdict, engine_for
from evalkit.judge.injection import without_flagged
from evalkit.judge.prompts import Defence, JudgePrompt, rating_prompt
from evalkit.judge.rubric import Rubric
from evalkit.models.base import Model, ModelSpec
from evalkit.records import JudgeRef

DEFAULT_BATCH = 8  # questions per cache append; also the forward batch of a judge on a GPU or a server


def default_forward_batch(model: Model) -> int:
    """Questions per forward pass when the caller did not choose: one at a time for a local model on
    the CPU, where padding variable-length prompts costs more than batching saves (measured by
    benchmarks/bench_judge.py throughput: 0.291 stories/s one by one against 0.231 in batches of 8)."""
    device = getattr(getattr(model, "model", None), "device", None)
    on_cpu = getattr(device, "type", None) == "cpu"
    return 1 if model.spec.backend == "hf" and on_cpu else DEFAULT_BATCH


@dataclass
class Question:
    key: str
    prompt: JudgePrompt
    kind: str
    rubric: Rubric
    story_hash: str
    order: str | None = None


class Judge:
    def __init__(self, spec: ModelSpec, model: Model, engine: Engine, cache_dir: str | Path | None = None,
                 batch_size: int = DEFAULT_BATCH):
        self.spec, self.model, self.engine = spec, model, engine
        self.key = model.fingerprint()
        self.cache = JudgeCache(cache_dir, self.key)
        self.batch_size = max(1, batch_size)
        self.asked = 0  # questions sent to the model (cache misses, retries not counted)
        self.missing = 0  # questions left without an answer
        self.rubrics_used: dict[str, str] = {}
        self.model_arg: str | None = None  # the argument it was configured from (for the manifest)
        self.models_file: str | None = None
        self.defence = Defence()  # how stories are shown to it (prompt injection; suite.toml [judge] injection)

    # -- questions ----------------------------------------------------------------------------------
    def story_hash(self, text: str) -> str:
        """The hash of what the judge reads of a story: with flagged sentences left out, a story that
        differs only by them is the same question (asked once)."""
        return text_hash(without_flagged(text) if self.defence.drop_flagged else text)

    def question(self, prompt: JudgePrompt, kind: str, rubric: Rubric, story_hash: str,
                 order: str | None = None) -> Question:
        self.rubrics_used[rubric.name] = f"v{rubric.version}:{rubric.digest()}"
        # a pair's story_hash is "first:second" in the order shown, so it already tells the two orders
        # apart; the caller's label (a>b) stays out of the key, so a swapped comparison reuses answers
        key = question_key(self.key, self.engine.identity(), rubric.digest(), prompt.system + prompt.user,
                           story_hash, "shown" if order else None)
        return Question(key, prompt, kind, rubric, story_hash, order)

    def ask(self, questions: Sequence[Question],
            progress: Callable[[int, int], None] | None = None) -> list[JudgeRecord]:
        """Answers in order: cached ones as stored, the rest asked in batches (each appended to the
        cache as soon as it is answered); an unreadable answer is asked once more, then left None."""
        done: dict[str, JudgeRecord] = {}
        todo: dict[str, Question] = {}
        for q in questions:
            hit = self.cache.get(q.key)
            if hit is not None:
                done[q.key] = hit
            else:
                todo.setdefault(q.key, q)
        pending = list(todo.values())
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            verdicts = self._ask([q.prompt for q in batch])
            again = [i for i, v in enumerate(verdicts) if v.value is None]
            if again:
                retried = self._ask([batch[i].prompt for i in again])
                for i, v in zip(again, retried):
                    if v.value is None:
                        v.note = f"{v.note or 'no answer'} (after one retry)"
                    verdicts[i] = v
            self.asked += len(batch)
            recs = [self._record(q, v) for q, v in zip(batch, verdicts)]
            self.missing += sum(1 for r in recs if r.value is None)
            self.cache.add(recs)
            done.update((r.key, r) for r in recs)
            if progress:
                progress(min(start + len(batch), len(pending)), len(pending))
        return [done[q.key] for q in questions]

    def _ask(self, prompts: list[JudgePrompt]) -> list[Verdict]:
        try:
            verdicts = self.engine.ask(prompts)
            if len(verdicts) != len(prompts):
                raise RuntimeError(f"the engine returned {len(verdicts)} answers for {len(prompts)} questions")
            return verdicts
        except Exception as e:  # a judge that breaks mid-run leaves nulls with the reason, never a crash
            note = f"judge failed: {type(e).__name__}: {e}"[:300]
            return [Verdict(None, self.engine.method, note=note) for _ in prompts]

    def _record(self, q: Question, v: Verdict) -> JudgeRecord:
        return JudgeRecord(key=q.key, judge_key=self.key, kind=q.kind, rubric=q.rubric.name,  # type: ignore[arg-type]
                           rubric_hash=q.rubric.digest(), story_hash=q.story_hash, order=q.order, value=v.value,
                           method=v.method, probs=v.probs, coverage=v.coverage, n_samples=v.n_samples,
                           raw=v.raw[:1000], note=v.note)

    # -- ratings ------------------------------------------------------------------------------------
    def rate(self, stories: Sequence[Any], rubrics: Sequence[Rubric], genres: dict[str, str] | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[dict[str, JudgeRecord]]:
        """Every rubric for every story (StoryInput-like: text, prompt, genre): per story, rubric -> record."""
        genres = genres or {}
        qs = []
        for s in stories:
            h = self.story_hash(s.text)
            for r in rubrics:
                p = rating_prompt(r, s.text, s.prompt, s.genre, genres.get(s.genre or ""), self.defence)
                qs.append(self.question(p, "rating", r, h))
        recs = self.ask(qs, progress)
        n = len(rubrics)
        return [{r.name: rec for r, rec in zip(rubrics, recs[i * n : (i + 1) * n])} for i in range(len(stories))]

    def info(self) -> JudgeRef:
        """What the run's manifest records about this judge."""
        return JudgeRef(model=self.model_arg or self.spec.label, models_file=self.models_file, label=self.spec.label,
                        backend=self.spec.backend, spec=self.spec.to_dict(), fingerprint=self.key,
                        engine=self.engine.identity(), rubrics=dict(sorted(self.rubrics_used.items())))

    def is_same_model(self, fingerprint: str | None = None, spec: ModelSpec | None = None) -> bool:
        """True when a candidate is this judge (same weights by fingerprint, or the same source)."""
        if fingerprint and fingerprint == self.key:
            return True
        if spec is not None:
            mine = {k: self.spec.options.get(k) for k in ("source", "gguf_package", "gguf_file", "base_url", "model")}
            theirs = {k: spec.options.get(k) for k in mine}
            return spec.backend == self.spec.backend and any(v for v in mine.values()) and mine == theirs
        return False

    def close(self) -> None:
        self.model.close()


def configure_judge(model_arg: str, models_file: str | Path | None = None, *, cache_dir: str | Path | None = None,
                    batch_size: int | None = None, samples: int = DEFAULT_SAMPLES,
                    overrides: dict[str, Any] | None = None) -> Judge:
    """Resolve, check and load the judge model; EvalkitError (exit 2) when it cannot run at all.
    ``batch_size``: questions per forward pass and per cache append (default: default_forward_batch).

    ``cache_dir`` is the results folder's .cache (judge calls go to <cache_dir>/judge/); None: no cache."""
    spec, model = _judge_model(model_arg, models_file, overrides)
    try:
        model.load()
    except EvalkitError as e:
        raise EvalkitError(f"judge {spec.label!r}: {e}") from None
    except Exception as e:  # an unexpected load failure is still the user's model: one line
        raise EvalkitError(f"judge {spec.label!r} failed to load: {type(e).__name__}: {e}"[:400]) from None
    forward = batch_size if batch_size is not None else default_forward_batch(model)
    judge = Judge(spec, model, engine_for(model, forward, samples), cache_dir, batch_size or DEFAULT_BATCH)
    judge.model_arg, judge.models_file = model_arg, None if models_file is None else str(Path(models_file).resolve())
    return judge


def _judge_model(model_arg: str, models_file: str | Path | None,
                 overrides: dict[str, Any] | None = None) -> tuple[ModelSpec, Model]:
    """The judge's spec and backend object (not loaded); EvalkitError when it cannot run here."""
    from evalkit.models.base import options_problem
    from evalkit.models.registry import load_backend, resolve_model

    try:
        spec = resolve_model(model_arg, models_file, overrides)
    except EvalkitError as e:
        raise EvalkitError(f"--judge {model_arg}: {e}") from None
    cls = load_backend(spec.backend)
    if cls.options_model is not None:
        problem = options_problem(spec.label, spec.backend, cls.options_model, spec.options)
        if problem:
            raise EvalkitError(f"judge: {problem}")
    model = cls(spec)
    problem = model.availability()
    if problem:
        raise EvalkitError(f"judge {spec.label!r} cannot run: {problem}")
    return spec, model


def check_judge(model_arg: str, models_file: str | Path | None = None) -> JudgeRef:
    """Resolve the judge and check it can run, without loading it (a run checks before any work and
    loads the judge only for scoring, so it does not hold memory while the candidates generate)."""
    spec, model = _judge_model(model_arg, models_file)
    return JudgeRef(model=model_arg, models_file=None if models_file is None else str(Path(models_file).resolve()),
                    label=spec.label,
                    backend=spec.backend, spec=spec.to_dict(), fingerprint=model.fingerprint())
