"""Story suites: suites/<name>/suite.toml + stories.jsonl, loaded and validated with file:line errors."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit.errors import EvalkitError, SuiteError
from evalkit.records import GenerationParams, json_object_lines
from evalkit.sampling import parse_samples

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
DEFAULT_SUITE = "persona-tales"
FALLBACK_SUITE = "smoke"
ITEM_KEYS = ("id", "genre", "characters", "prompt", "story", "split")

DEFAULT_TEMPLATES = {
    # The seed's text format: [GENRE] -> [CHARACTERS] -> [PROMPT] -> [STORY]
    "base": "[GENRE] {genre}\n[CHARACTERS] {characters}\n[PROMPT] {prompt}\n[STORY]",
    "character": "{name} ({description})",
    "system": "You are a children's author. You write original, warm, age-appropriate stories for readers aged 6 to 10.",
    "chat": (
        "Write a {genre} story for children aged 6-10.\nCharacters: {characters}\nPrompt: {prompt}\n"
        "Use every character by name. Give the story a beginning, a problem and a resolution. "
        "Reply with the story only."
    ),
}


@dataclass(frozen=True)
class Character:
    name: str
    description: str = ""


@dataclass(frozen=True)
class SuiteItem:
    id: str
    genre: str
    characters: tuple[Character, ...]
    prompt: str
    story: str  # the human reference story
    split: str
    line: int = 0

    def content_hash(self) -> str:
        """Identity of the request (not the reference story): changes when genre, characters or prompt change."""
        data = json.dumps(
            [self.id, self.genre, [[c.name, c.description] for c in self.characters], self.prompt],
            ensure_ascii=False,
        )
        return hashlib.sha256(data.encode()).hexdigest()[:16]


@dataclass
class Suite:
    name: str
    path: Path
    genres: dict[str, str]  # genre -> description (zero-shot genre scoring uses it)
    splits: list[str]
    default_split: str
    templates: dict[str, str]
    generation: dict[str, Any]
    items: list[SuiteItem]
    config: dict[str, Any] = field(default_factory=dict)  # the whole suite.toml (rating, regress, scorers read theirs)
    hash: str = ""

    def split(self, name: str) -> list[SuiteItem]:
        if name not in self.splits:
            raise EvalkitError(
                f"unknown split {name!r} in suite {self.name!r}: choose one of {', '.join(self.splits)}"
            )
        items = [i for i in self.items if i.split == name]
        if not items:
            raise EvalkitError(f"split {name!r} of suite {self.name!r} is empty")
        return items

    def item(self, item_id: str) -> SuiteItem:
        for i in self.items:
            if i.id == item_id:
                return i
        raise KeyError(item_id)

    def format_characters(self, item: SuiteItem) -> str:
        tpl = self.templates["character"]
        return "; ".join(tpl.format(name=c.name, description=c.description) for c in item.characters)

    def render(self, item: SuiteItem, kind: str) -> str:
        """Fill template ``kind`` (base, chat, system) for one item."""
        return self.templates[kind].format(
            genre=item.genre, characters=self.format_characters(item), prompt=item.prompt
        )


def resolve_suite_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.is_dir():
        return p
    if p.name == "suite.toml" and p.is_file():
        return p.parent
    candidate = SUITES_DIR / str(name_or_path)
    if candidate.is_dir():
        return candidate
    known = sorted(d.name for d in SUITES_DIR.iterdir() if (d / "suite.toml").exists()) if SUITES_DIR.is_dir() else []
    raise EvalkitError(f"unknown suite {str(name_or_path)!r}: not a folder; built-in suites: {', '.join(known) or 'none'}")


def default_suite_name() -> str:
    return DEFAULT_SUITE if (SUITES_DIR / DEFAULT_SUITE / "stories.jsonl").exists() else FALLBACK_SUITE


def find_run_suite(path: str, name: str, expected_hash: str) -> tuple[Suite | None, Suite | None]:
    """The suite a run was made from, looked up by its stored path, then by name.

    Returns (the version whose hash matches, or None; the first suite found at all, or None)."""
    found = None
    for ref in (path, name):
        try:
            suite = load_suite(ref)
        except EvalkitError:
            continue
        if suite.hash == expected_hash:
            return suite, suite
        found = found or suite
    return None, found


def load_suite(name_or_path: str | Path) -> Suite:
    """Load and validate a suite. Every problem is collected and raised together as SuiteError."""
    root = resolve_suite_path(name_or_path)
    toml_path, jsonl_path = root / "suite.toml", root / "stories.jsonl"
    problems: list[str] = []
    try:
        raw_toml = toml_path.read_bytes().removeprefix(b"\xef\xbb\xbf")  # a BOM (Windows editors) is not content
        config = tomllib.loads(raw_toml.decode("utf-8"))
    except FileNotFoundError:
        raise SuiteError([f"{toml_path}: missing"]) from None
    except IsADirectoryError:
        raise SuiteError([f"{toml_path}: is a folder, expected a TOML file"]) from None
    except UnicodeDecodeError as e:
        line = raw_toml[: e.start].count(b"\n") + 1
        raise SuiteError([f"{toml_path}:{line}: not UTF-8 text (byte 0x{raw_toml[e.start]:02x})"]) from None
    except tomllib.TOMLDecodeError as e:
        # tomllib reports "(at line N, column M)"; keep it on one file:line form
        raise SuiteError([f"{toml_path}: {e}"]) from None

    genres = config.get("genres", {})
    if not isinstance(genres, dict) or not genres:
        problems.append(f"{toml_path}: [genres] must map each genre to a description")
        genres = {}
    splits = config.get("splits", ["train", "validation", "test"])
    if not isinstance(splits, list) or not all(isinstance(s, str) for s in splits):
        problems.append(f"{toml_path}: splits must be a list of names")
        splits = ["train", "validation", "test"]
    default_split = config.get("default_split", "test")
    templates = dict(DEFAULT_TEMPLATES)
    given = config.get("templates", {})
    if isinstance(given, dict):
        templates.update(given)
    else:
        problems.append(f"{toml_path}: [templates] must be a table of name = \"text\", not {type(given).__name__}")
    for key, tpl in list(templates.items()):
        if not isinstance(tpl, str):
            problems.append(f"{toml_path}: template {key!r} must be a string, not {type(tpl).__name__}")
            templates[key] = DEFAULT_TEMPLATES.get(key, "")
            continue
        try:
            tpl.format(genre="g", characters="c", prompt="p", name="n", description="d")
        except (KeyError, IndexError, ValueError) as e:
            problems.append(f"{toml_path}: template {key!r} has a bad placeholder ({e})")
    generation = config.get("generation", {})
    if generation:
        if "samples" in generation:  # stories per item: a run setting, not a sampling parameter
            try:
                parse_samples(generation["samples"], "[generation] samples")
            except EvalkitError as e:
                problems.append(f"{toml_path}: {e}")
        try:
            GenerationParams.model_validate({k: v for k, v in generation.items() if k != "samples"})
        except ValidationError as e:
            for err in e.errors():
                problems.append(f"{toml_path}: [generation] {'.'.join(map(str, err['loc']))}: {err['msg']}")

    items: list[SuiteItem] = []
    seen: dict[str, int] = {}
    try:
        raw_jsonl = jsonl_path.read_bytes()
    except FileNotFoundError:
        raise SuiteError(problems + [f"{jsonl_path}: missing"]) from None
    except IsADirectoryError:
        raise SuiteError(problems + [f"{jsonl_path}: is a folder, expected a JSONL file"]) from None

    for n, where, obj in json_object_lines(raw_jsonl, jsonl_path, problems):
        item = _parse_item(obj, n, where, genres, splits, problems)
        if item is None:
            continue
        if item.id in seen:
            problems.append(f"{where}: duplicate id {item.id!r} (first on line {seen[item.id]})")
            continue
        seen[item.id] = n
        items.append(item)
    if not items and not problems:
        problems.append(f"{jsonl_path}: no stories")
    if default_split not in splits:
        problems.append(f"{toml_path}: default_split {default_split!r} is not one of {splits}")
    if problems:
        raise SuiteError(problems)
    return Suite(
        name=config.get("name", root.name),
        path=root,
        genres=genres,
        splits=splits,
        default_split=default_split,
        templates=templates,
        generation=generation,
        items=items,
        config=config,
        hash=suite_hash(raw_jsonl, genres, splits, templates, generation),
    )


def suite_hash(raw_jsonl: bytes, genres: dict, splits: list, templates: dict, generation: dict) -> str:
    """Identity of what a run generated from: the stories and everything that shapes a prompt.
    Rating, regression and scoring settings are left out, so tuning them keeps runs comparable."""
    what = json.dumps([genres, splits, templates, generation], sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(raw_jsonl + b"\0" + what).hexdigest()[:16]


def _parse_item(obj: dict, n: int, where: str, genres: dict, splits: list, problems: list[str]) -> SuiteItem | None:
    before = len(problems)
    for key in ITEM_KEYS:
        if key not in obj:
            problems.append(f"{where}: missing {key!r}")
    unknown = set(obj) - set(ITEM_KEYS)
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if len(problems) > before:
        return None
    for key in ("id", "genre", "prompt", "story", "split"):
        if not isinstance(obj[key], str) or not obj[key].strip():
            problems.append(f"{where}: {key!r} must be a non-empty string")
    if isinstance(obj["genre"], str) and genres and obj["genre"] not in genres:
        problems.append(f"{where}: genre {obj['genre']!r} is not declared in suite.toml [genres]")
    if isinstance(obj["split"], str) and obj["split"] not in splits:
        problems.append(f"{where}: split {obj['split']!r} is not one of {splits}")
    chars = obj["characters"]
    characters: list[Character] = []
    if not isinstance(chars, list) or not chars:
        problems.append(f"{where}: 'characters' must be a non-empty list of {{name, description}}")
    else:
        for c in chars:
            if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"].strip():
                problems.append(f"{where}: each character needs a non-empty 'name'")
                continue
            characters.append(Character(c["name"], str(c.get("description", ""))))
    if len(problems) > before:
        return None
    return SuiteItem(obj["id"], obj["genre"], tuple(characters), obj["prompt"], obj["story"], obj["split"], n)
