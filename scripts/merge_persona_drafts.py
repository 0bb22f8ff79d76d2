"""Merge the persona-tales draft files into suites/persona-tales/stories.jsonl.

Reads every suites/persona-tales/_drafts/*.jsonl, orders the stories by genre
(Adventure & Exploration, Fantasy, Mystery, Mythology, Sci-Fi) and then by id,
and writes one JSON object per line with the keys in the order
id, genre, characters, prompt, story, split (UTF-8, ensure_ascii=False).

    .venv/bin/python scripts/merge_persona_drafts.py [--drafts DIR] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENRE_ORDER = ["Adventure & Exploration", "Fantasy", "Mystery", "Mythology", "Sci-Fi"]
KEYS = ["id", "genre", "characters", "prompt", "story", "split"]


def load(drafts: Path) -> list[dict]:
    rows = []
    for path in sorted(drafts.glob("*.jsonl")):
        for ln, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            missing = [k for k in KEYS if k not in obj]
            if missing:
                raise SystemExit(f"{path}:{ln}: missing keys {missing}")
            if obj["genre"] not in GENRE_ORDER:
                raise SystemExit(f"{path}:{ln}: unknown genre {obj['genre']!r}")
            rows.append(obj)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drafts", type=Path, default=ROOT / "suites/persona-tales/_drafts")
    ap.add_argument("--out", type=Path, default=ROOT / "suites/persona-tales/stories.jsonl")
    args = ap.parse_args(argv)

    rows = load(args.drafts)
    seen: set[str] = set()
    for r in rows:
        if r["id"] in seen:
            raise SystemExit(f"duplicate id {r['id']}")
        seen.add(r["id"])
    rows.sort(key=lambda r: (GENRE_ORDER.index(r["genre"]), r["id"]))
    lines = []
    for r in rows:
        chars = [{"name": c["name"], "description": c["description"]} for c in r["characters"]]
        obj = {k: (chars if k == "characters" else r[k]) for k in KEYS}
        lines.append(json.dumps(obj, ensure_ascii=False))
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} stories to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
