"""Check persona-tales story drafts against issue 3's rules (used while writing; tests repeat these checks)."""
from __future__ import annotations

import glob
import json
import re
import sys
from collections import Counter

GENRES = {"Adventure & Exploration", "Fantasy", "Mystery", "Mythology", "Sci-Fi"}
STOCK_PHRASES_FILE = "suites/persona-tales/stock_phrases.txt"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])[\"')\]]*\s+", text) if s.strip()]


def ngrams(ws: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)}


def main(paths: list[str]) -> int:
    import textstat

    from evalkit._cmudict import use_offline_cmudict

    use_offline_cmudict()

    rows = []
    for p in paths:
        for ln, line in enumerate(open(p, encoding="utf-8"), 1):
            if line.strip():
                try:
                    rows.append((p, ln, json.loads(line)))
                except json.JSONDecodeError as e:
                    print(f"{p}:{ln}: bad JSON: {e}")
    problems = 0
    ids = Counter(r["id"] for _, _, r in rows)
    for i, n in ids.items():
        if n > 1:
            print(f"duplicate id {i}"); problems += 1
    stock = set()
    try:
        stock = {tuple(words(l)) for l in open(STOCK_PHRASES_FILE) if l.strip() and not l.startswith("#")}
    except FileNotFoundError:
        pass
    sent_owner: dict[str, str] = {}
    first12: dict[tuple, str] = {}
    for p, ln, r in rows:
        where = f"{p}:{ln} ({r.get('id')})"
        for key in ("id", "genre", "characters", "prompt", "story", "split"):
            if key not in r:
                print(f"{where}: missing {key}"); problems += 1
        if r.get("genre") not in GENRES:
            print(f"{where}: bad genre {r.get('genre')!r}"); problems += 1
        if r.get("split") not in ("train", "validation", "test"):
            print(f"{where}: bad split"); problems += 1
        story = r.get("story", "")
        n = len(story.split())
        if not 180 <= n <= 400:
            print(f"{where}: {n} words (need 180-400)"); problems += 1
        fk = textstat.flesch_kincaid_grade(story)
        if not 1 <= fk <= 6:
            print(f"{where}: FK grade {fk:.2f} (need 1-6)"); problems += 1
        chars = r.get("characters", [])
        if not 1 <= len(chars) <= 4:
            print(f"{where}: {len(chars)} characters (need 1-4)"); problems += 1
        for c in chars:
            if c["name"] not in story:
                print(f"{where}: character {c['name']!r} not named in story"); problems += 1
        f12 = tuple(words(story)[:12])
        if f12 in first12:
            print(f"{where}: first 12 words repeat {first12[f12]}"); problems += 1
        first12[f12] = r.get("id")
        for s in sentences(story):
            ws = words(s)
            if len(ws) > 8:
                k = " ".join(ws)
                if k in sent_owner and sent_owner[k] != r.get("id"):
                    print(f"{where}: sentence shared with {sent_owner[k]}: {s!r}"); problems += 1
                sent_owner[k] = r.get("id")
    train6 = {}
    for _, _, r in rows:
        if r.get("split") == "train":
            for g in ngrams(words(r["story"]), 6):
                train6.setdefault(g, r["id"])
    for p, ln, r in rows:
        if r.get("split") == "test":
            for g in ngrams(words(r["story"]), 6):
                if g in train6 and not any(_contains(g, s) for s in stock):
                    print(f"{p}:{ln} ({r['id']}): test story shares 6-gram {' '.join(g)!r} with train {train6[g]}"); problems += 1
    by = Counter((r.get("genre"), r.get("split")) for _, _, r in rows)
    print(f"{len(rows)} stories; genre/split counts: {dict(sorted(by.items()))}")
    print(f"{problems} problems")
    return 1 if problems else 0


def _contains(gram: tuple, stock: tuple) -> bool:
    """A 6-gram is stock when it lies inside a listed stock phrase."""
    n = len(gram)
    return any(stock[i : i + n] == gram for i in range(len(stock) - n + 1))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or sorted(glob.glob("suites/persona-tales/_drafts/*.jsonl"))))
