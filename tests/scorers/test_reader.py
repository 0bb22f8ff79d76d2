import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_examples_label_adjacent_pairs_against_reversed_gapped_and_foreign_ones():
    import numpy as np

    from evalkit.scorers.reader.model import EMBED_DIM
    from evalkit.scorers.reader.train import TrainSettings, examples

    rng = np.random.default_rng(0)
    stories = [rng.normal(size=(n, EMBED_DIM)).astype(np.float32) for n in (5, 7, 2)]
    ex = examples(stories, TrainSettings())
    x, y = ex["pair"]
    assert x.shape[1] == 4 * EMBED_DIM and y.sum() == 4 + 6  # one positive per adjacent pair (the 2-sentence story is too short)
    first = stories[0]
    assert np.allclose(x[0, :EMBED_DIM], first[0]) and np.allclose(x[0, EMBED_DIM:2 * EMBED_DIM], first[1]) and y[0] == 1
    assert np.allclose(x[1, :EMBED_DIM], first[1]) and y[1] == 0  # the same pair reversed
    ox, oy = ex["opening"]
    assert oy.sum() == 2 and np.allclose(ox[0], first[0]) and (oy == 0).sum() == 4


STORY_SUITES = ("smoke", "persona-tales")  # stories the shipped reader never trained on: not the train split
SHIPPED_FLOORS = {  # share of stories ranked above their corrupted copy (measured well above; chance 0.5)
    "shuffle": 0.8, "block_shuffle": 0.7, "insert_foreign": 0.6,
}


def _held_out_stories(embed_context, n_sentences: int = 12):
    from evalkit.scorers.text import clean, sentences
    from evalkit.suites import load_suite

    out = []
    for name in STORY_SUITES:
        for item in load_suite(name).items:
            if item.split != "train" and item.story:
                out.append(embed_context.embed(sentences(clean(item.story))[:n_sentences]))
    return out


@pytest.mark.slow
def test_shipped_reader_ranks_suite_stories_above_their_corruptions(embed_context):
    from evalkit.scorers.reader import WEIGHTS, load_reader
    from evalkit.scorers.reader.train import accuracy_by_kind

    reader = load_reader()
    stories = _held_out_stories(embed_context)
    assert len(stories) >= 20
    acc = accuracy_by_kind(reader.score, stories, seed=7)
    for kind, floor in SHIPPED_FLOORS.items():
        assert acc[kind] >= floor, (kind, acc)
    rec = reader.record
    assert WEIGHTS.stat().st_size <= 30 * 2**20 and rec["weights_sha256"] == hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    assert rec["norms"]["sd"] > 0 and {"seed", "settings", "data", "accuracy", "heldout"} <= set(rec)


@pytest.mark.slow
def test_training_command_is_reproducible_on_a_tiny_corpus(tmp_path):
    """scripts/train_reader.py, run twice on the same few stories with one seed, writes the same weights;
    another seed writes others."""
    from evalkit.scorers.text import clean, sentences
    from evalkit.suites import load_suite

    corpus = tmp_path / "tiny.jsonl"
    items = [i for i in load_suite("persona-tales").items if i.split == "train"][:8]
    corpus.write_text("".join(json.dumps({"sentences": sentences(clean(i.story))[:7]}) + "\n" for i in items))

    def train(out: str, seed: int) -> tuple[bytes, dict]:
        cmd = [sys.executable, str(ROOT / "scripts" / "train_reader.py"), "--corpus", str(corpus), "--heldout", "2",
               "--seed", str(seed), "--threads", "1", "--out", str(tmp_path / out),
               "--cache", str(tmp_path / "cache")]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr[-2000:]
        return ((tmp_path / out / "order_reader.safetensors").read_bytes(),
                json.loads((tmp_path / out / "order_reader.json").read_text()))

    (w1, r1), (w2, r2), (w3, _) = train("a", 0), train("b", 0), train("c", 1)
    assert w1 == w2 and w1 != w3
    assert r1["data"] == r2["data"] and r1["data"][0]["stories"] == 6 and r1["heldout"]["stories"] == 2
    assert r1["norms"] == r2["norms"] and r1["seed"] == 0 and set(r1["accuracy"]["heldout_by_kind"]) >= {"shuffle", "drop"}
