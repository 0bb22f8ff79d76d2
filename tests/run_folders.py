"""Run folders for tests, built from fixed stored records (no language model is loaded): the one
builder behind the ``scored_run`` and ``run_builder`` fixtures (tests/conftest.py) and the golden run.

The suite is the smoke suite's five stories with a [rating] that points the quality rows at the cheap
scorers (repetition, vocabulary), so anchors are computed for real from the reference stories.
Model "storyteller" writes the reference stories (one carries a <script> payload); "parrot" loops
the first sentence. Scores come from the real scoring stage over these stored generations.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from evalkit.records import (
    GenerationParams,
    GenerationRecord,
    Manifest,
    MemoryReading,
    ModelInfo,
    ModelRun,
    SuiteRef,
    write_json,
)

REPO = Path(__file__).resolve().parents[1]
PAYLOAD = '<script>document.title="PWNED";window.pwned=1</script><img src=x onerror="document.title=\'PWNED\'">'
RATING = """
[rating.quality]
"Story Coherence" = "distinct_2"
"Genre Adherence" = "seq_rep_4"
"Creativity" = "creativity"
"Vocabulary Richness" = "mtld"

[rating.anchors]
distinct_2 = ["looped"]
seq_rep_4 = ["looped", "shuffled"]
mtld = ["looped"]
"""


def make_suite(root: Path) -> Path:
    suite = root / "suite"
    suite.mkdir(parents=True)
    toml = (REPO / "suites/smoke/suite.toml").read_text(encoding="utf-8")
    toml = toml.split("\n[rating", 1)[0].split("\n[regress", 1)[0]  # keep genres/generation, our own [rating]
    (suite / "suite.toml").write_text(toml + RATING, encoding="utf-8")
    shutil.copy(REPO / "suites/smoke/stories.jsonl", suite / "stories.jsonl")
    return suite


def make_run(root: Path, labels: tuple[str, str] = ("storyteller", "parrot"), run_id: str = "20250101-000000-test01") -> Path:
    from evalkit.anchors import looped
    from evalkit.pipeline import score_run
    from evalkit.suites import load_suite

    suite = load_suite(make_suite(root))
    items = suite.split("test")
    run = root / "results" / run_id
    good, bad = labels
    models = [
        ModelRun(label=good, spec={"backend": "hf"}, model_key="k-good", n_generated=len(items),
                 info=ModelInfo(name="tiny-good", backend="hf", parameters=82_000_000, dtype="float32", device="cpu"),
                 memory=MemoryReading(kind="rss", peak_bytes=1_500_000_000), load_s=1.25,
                 training={"wall_time_s": 5400.0, "recipe": "full"}),
        ModelRun(label=bad, spec={"backend": "hf"}, model_key="k-bad", n_generated=len(items),
                 info=ModelInfo(name="tiny-bad", backend="hf", parameters=8_000_000_000, dtype="nf4", device="cpu"),
                 memory=MemoryReading(kind="rss", peak_bytes=7_000_000_000), load_s=30.0),
    ]
    manifest = Manifest(run_id=run_id, created="2025-01-01T09:00:00Z", finished="2025-01-01T09:10:00Z",
                        status="complete", evalkit_version="0.1.0", python="3.11.9",
                        hardware={"cpu": "Test CPU", "cores": 2, "gpu": None},
                        suite=SuiteRef(name=suite.name, path=str(suite.path), hash=suite.hash, split="test",
                                       item_ids=[i.id for i in items]),
                        params=GenerationParams(), models=models)
    manifest.scorers = ["repetition", "vocabulary"]
    write_json(run / "manifest.json", manifest)
    lines = []
    for n, item in enumerate(items):
        text = item.story + (" " + PAYLOAD if n == 1 else "")
        for label, body, latency in ((good, text, 0.5 + 0.01 * n), (bad, looped(item.story), 6.0 + 0.1 * n)):
            rec = GenerationRecord(key=f"{label}-{item.id}", model=label, model_key=f"k-{label}", item_id=item.id,
                                   seed=1234, params_key="p", text=body, completion_tokens=120, latency_s=latency,
                                   ttft_s=0.05, batch_size=1, created="2025-01-01T09:05:00Z")
            lines.append(json.dumps(rec.model_dump(mode="json", by_alias=True)) + "\n")
    (run / "generations.jsonl").write_text("".join(lines), encoding="utf-8")
    score_run(run, ["repetition", "vocabulary"])
    return run
