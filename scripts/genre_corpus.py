"""Build and check evalkit's labelled genre corpus (evalkit/scorers/genre_corpus/).

    .venv/bin/python scripts/genre_corpus.py merge DRAFTS_DIR   # writer*/test.jsonl + train.jsonl -> stories.jsonl
    .venv/bin/python scripts/genre_corpus.py merge --add DRAFTS_DIR   # append new writers' drafts to it
    .venv/bin/python scripts/genre_corpus.py stats              # rewrite the DATACARD statistics section
    .venv/bin/python scripts/genre_corpus.py stats --check      # exit 1 if the data card or the corpus fails

The corpus meets persona-tales' standards, with the checks of scripts/check_stories.py (same word,
sentence and 6-gram rules, same stock phrases): 150-400 words, no sentence longer than eight words
shared by two stories (in the corpus or with persona-tales), unique first twelve words, no 6-gram
shared with persona-tales' test split, and no 6-gram shared between the corpus' locked test part and
its train part. ``merge`` reads the locked test parts first, then the train parts, and drops a story
that breaks a rule against a story kept before it (a train story, for a test/train 6-gram); every
drop is printed and stored in merge_log.json, which the data card reports. ``merge --add`` keeps the
shipped stories as they are (they were kept before) and checks the new drafts against them, so a
later writer's stories never displace an earlier one's and the locked test part stays fixed; the
merge log adds the new drafts to its counts.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import check_stories as cs  # noqa: E402  (the persona-tales rules, reused)

CORPUS = ROOT / "evalkit/scorers/genre_corpus"
STORIES = CORPUS / "stories.jsonl"
MERGE_LOG = CORPUS / "merge_log.json"
DATACARD = CORPUS / "DATACARD.md"
PERSONA = ROOT / "suites/persona-tales/stories.jsonl"
KEYS = ["id", "genre", "mixed_cue", "borrowed", "title", "story", "part", "writer"]
GENRES = ["Adventure & Exploration", "Fantasy", "Mystery", "Mythology", "Sci-Fi"]
MIN_WORDS, MAX_WORDS = 150, 400
BEGIN, END = "<!-- stats:begin -->", "<!-- stats:end -->"


def _stock() -> set[tuple[str, ...]]:
    lines = (ROOT / cs.STOCK_PHRASES_FILE).read_text(encoding="utf-8").splitlines()
    return {tuple(cs.words(ln)) for ln in lines if ln.strip() and not ln.startswith("#")}


def _long_sentences(story: str) -> set[str]:
    return {" ".join(ws) for ws in (cs.words(s) for s in cs.sentences(story)) if len(ws) > 8}


def format_problems(r: dict) -> list[str]:
    out = []
    if list(r) != KEYS:
        out.append(f"keys {list(r)} (need {KEYS})")
    if r.get("genre") not in GENRES:
        out.append(f"bad genre {r.get('genre')!r}")
    if r.get("part") not in ("test", "train"):
        out.append(f"bad part {r.get('part')!r}")
    if not isinstance(r.get("mixed_cue"), bool):
        out.append("mixed_cue is not true/false")
    b = r.get("borrowed")
    if (b is not None and (b not in GENRES or b == r.get("genre"))) or (bool(b) != bool(r.get("mixed_cue"))):
        out.append(f"borrowed {b!r} does not fit genre/mixed_cue")
    n = len(str(r.get("story", "")).split())
    if not MIN_WORDS <= n <= MAX_WORDS:
        out.append(f"{n} words (need {MIN_WORDS}-{MAX_WORDS})")
    return out


class Checker:
    """The corpus rules, applied story by story against everything accepted before."""

    def __init__(self):
        self.stock = _stock()
        self.sent_owner: dict[str, str] = {}
        self.first12: dict[tuple, str] = {}
        self.persona_test6: dict[tuple, str] = {}
        self.ids: set[str] = set()
        self.test6: dict[tuple, str] = {}
        self.train6: dict[tuple, str] = {}
        for line in PERSONA.read_text(encoding="utf-8").splitlines():
            if line.strip():
                p = json.loads(line)
                for s in _long_sentences(p["story"]):
                    self.sent_owner.setdefault(s, p["id"])
                self.first12.setdefault(tuple(cs.words(p["story"])[:12]), p["id"])
                if p["split"] == "test":
                    for g in cs.ngrams(cs.words(p["story"]), 6):
                        self.persona_test6.setdefault(g, p["id"])

    def _leak(self, grams, other: dict) -> tuple | None:
        for g in sorted(grams):
            if g in other and not any(cs._contains(g, s) for s in self.stock):
                return g
        return None

    def problems(self, r: dict) -> list[str]:
        out = format_problems(r)
        if r.get("id") in self.ids:
            out.append("duplicate id")
        story = str(r.get("story", ""))
        ws = cs.words(story)
        if tuple(ws[:12]) in self.first12:
            out.append(f"first 12 words repeat {self.first12[tuple(ws[:12])]}")
        shared = sorted(s for s in _long_sentences(story) if s in self.sent_owner)
        if shared:
            out.append(f"sentence shared with {self.sent_owner[shared[0]]}: {shared[0]!r}")
        grams = cs.ngrams(ws, 6)
        if (g := self._leak(grams, self.persona_test6)):
            out.append(f"6-gram {' '.join(g)!r} from persona-tales test {self.persona_test6[g]}")
        other = self.test6 if r.get("part") == "train" else self.train6
        if (g := self._leak(grams, other)):
            out.append(f"6-gram {' '.join(g)!r} shared with the other part ({other[g]})")
        return out

    def accept(self, r: dict) -> None:
        self.ids.add(r["id"])
        for s in _long_sentences(r["story"]):
            self.sent_owner.setdefault(s, r["id"])
        self.first12.setdefault(tuple(cs.words(r["story"])[:12]), r["id"])
        mine = self.test6 if r["part"] == "test" else self.train6
        for g in cs.ngrams(cs.words(r["story"]), 6):
            mine.setdefault(g, r["id"])


def merge(drafts: Path, add: bool = False) -> int:
    rows = []
    for part in ("test", "train"):  # the locked test part wins every conflict
        for f in sorted(drafts.glob(f"writer*/{part}.jsonl")):
            for ln, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        print(f"{f}:{ln}: bad JSON, dropped: {e}")
    checker, kept, dropped, read_before = Checker(), [], [], 0
    if add:  # the shipped stories stand; new drafts are checked against them
        log = json.loads(MERGE_LOG.read_text(encoding="utf-8"))
        kept, dropped, read_before = load(), log["dropped"], log["read"]
        for r in kept:
            checker.accept(r)
        old = {r["id"] for r in kept}
        if any(r.get("id") in old for r in rows):
            print("--add: a draft reuses a shipped id; nothing written", file=sys.stderr)
            return 2
    for r in rows:
        why = checker.problems(r)
        if why:
            dropped.append({"id": r.get("id"), "part": r.get("part"), "genre": r.get("genre"), "why": why})
            print(f"dropped {r.get('id')}: {'; '.join(why)}")
        else:
            checker.accept(r)
            kept.append({k: r[k] for k in KEYS})
    CORPUS.mkdir(parents=True, exist_ok=True)
    with open(STORIES, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in kept)
    MERGE_LOG.write_text(json.dumps({"read": read_before + len(rows), "kept": len(kept), "dropped": dropped},
                                    indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(rows)} read, {len(kept)} kept in all, {len(dropped)} dropped in all -> {STORIES}")
    return 0


def check_corpus() -> list[str]:
    """Every rule, over the shipped file as it stands."""
    checker, out = Checker(), []
    for r in load():
        why = checker.problems(r)
        out += [f"{r.get('id')}: {w}" for w in why]
        if not why:
            checker.accept(r)
    return out


def load() -> list[dict]:
    return [json.loads(ln) for ln in STORIES.read_text(encoding="utf-8").splitlines() if ln.strip()]


def render(rows: list[dict], log: dict) -> str:
    c = Counter((r["genre"], r["part"], r["mixed_cue"]) for r in rows)
    L = ["<!-- generated by scripts/genre_corpus.py from stories.jsonl and merge_log.json; do not edit by hand -->",
         "", f"{len(rows)} stories from {len({r['writer'] for r in rows})} writers. Words are whitespace-separated tokens.",
         "", "| Genre | test | test mixed-cue | train | train mixed-cue | Total | Words mean | Words min | Words max |",
         "|---|" + "---:|" * 8]
    for g in GENRES + ["**All**"]:
        sel = [r for r in rows if g == "**All**" or r["genre"] == g]
        n = [len(r["story"].split()) for r in sel]
        cells = [sum(v for (gg, p, m), v in c.items() if (g == "**All**" or gg == g) and p == part and (not mix or m))
                 for part in ("test", "train") for mix in (False, True)]
        L.append(f"| {g} | " + " | ".join(map(str, cells)) + f" | {len(sel)} | {sum(n) / max(len(n), 1):.1f} "
                 f"| {min(n, default=0)} | {max(n, default=0)} |")
    borrowed = Counter((r["genre"], r["borrowed"]) for r in rows if r["mixed_cue"])
    L += ["", "Mixed-cue stories: own genre (rows) and the genre whose surface they borrow (columns):", "",
          "| own \\ borrowed | " + " | ".join(GENRES) + " |", "|---|" + "---:|" * len(GENRES)]
    for g in GENRES:
        L.append(f"| {g} | " + " | ".join(str(borrowed[(g, b)]) for b in GENRES) + " |")
    L += ["", "By writer: " + ", ".join(f"{w}: {n}" for w, n in sorted(Counter(r['writer'] for r in rows).items())) + ".",
          "", f"Merge: {log['read']} drafted, {log['kept']} kept, {len(log['dropped'])} dropped"
          + (":" if log["dropped"] else ".")]
    if log["dropped"]:
        L += ["", "| dropped | part | genre | why |", "|---|---|---|---|"]
        L += [f"| {d['id']} | {d['part']} | {d['genre']} | {'; '.join(d['why']).replace('|', '/')} |" for d in log["dropped"]]
    return "\n".join(L) + "\n"


def stats(check: bool) -> int:
    problems = check_corpus()
    for p in problems:
        print(p, file=sys.stderr)
    card = DATACARD.read_text(encoding="utf-8")
    s, e = card.find(BEGIN), card.find(END)
    if s < 0 or e < s:
        raise SystemExit(f"markers {BEGIN} ... {END} not found in {DATACARD}")
    new = card[: s + len(BEGIN)] + "\n" + render(load(), json.loads(MERGE_LOG.read_text(encoding="utf-8"))) + card[e:]
    if check:
        if new != card:
            print(f"{DATACARD} is out of date; run scripts/genre_corpus.py stats", file=sys.stderr)
            return 1
        print(f"{DATACARD} is up to date; {len(problems)} problems")
        return 1 if problems else 0
    if new != card:
        DATACARD.write_text(new, encoding="utf-8")
    print(f"{DATACARD.relative_to(ROOT)} written; {len(problems)} problems")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge")
    m.add_argument("drafts", type=Path)
    m.add_argument("--add", action="store_true", help="append to the shipped corpus instead of rebuilding it")
    st = sub.add_parser("stats")
    st.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    return merge(args.drafts, args.add) if args.cmd == "merge" else stats(args.check)


if __name__ == "__main__":
    sys.exit(main())
