"""The golden run: what a scored run writes (summary, rating, reports, leaderboard, a pinned baseline and a
regression check) is byte-identical to the files in tests/golden/, which the code wrote before the
pipeline refactor (issue 11). Regenerate them only for an intended change: EVALKIT_UPDATE_GOLDEN=1.

Normalised in the fixture, not in the comparison: the clock (every ``utcnow`` returns one fixed stamp)
and the temporary folder (its path is replaced by ``ROOT``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from run_folders import make_run

GOLDEN = Path(__file__).parent / "golden" / "run"
FIXED_NOW = "2025-01-01T09:20:00Z"
RUN_ID, CAND_ID = "20250101-000000-test01", "20250102-000000-test02"


@pytest.fixture(scope="module")
def golden_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import evalkit.rating.stored
    import evalkit.records
    from evalkit.leaderboard import build
    from evalkit.report.leaderboard import render
    from evalkit.regress import load_run, pin_baseline, regress, suite_regress_config

    mp = pytest.MonkeyPatch()
    for module in (evalkit.records, evalkit.rating.stored):
        mp.setattr(module, "utcnow", lambda: FIXED_NOW)
    try:
        root = tmp_path_factory.mktemp("golden")
        run = make_run(root)
        cand = make_run(root / "cand", run_id=CAND_ID)
        for r in (run, cand):
            _report(r)
        pinned = root / "baseline.json"
        pin_baseline(run, pinned)
        from evalkit.regress import load_side

        # the candidate's looping model against the baseline's good one: real regressions to render
        result = regress(load_side(pinned), load_run(cand), suite_regress_config(load_run(cand))[0],
                         "storyteller", "parrot")
        out = {name: (run / name).read_text(encoding="utf-8")
               for name in ("summary.json", "scores.jsonl", "rating.json", "report.md", "report.html")}
        out["baseline.json"] = pinned.read_text(encoding="utf-8")
        out["regress.md"] = _regress_md(result)
        out["regress.json"] = _json(result)
        out["leaderboard.md"] = render(build(root / "results"), "md")
        out["leaderboard.csv"] = render(build(root / "results"), "csv")
        out["leaderboard.json"] = render(build(root / "results"), "json")
        out["leaderboard.html"] = render(build(root / "results"), "html")
    finally:
        mp.undo()
    out = {k: v.replace(str(root), "ROOT") for k, v in out.items()}
    out["baseline.json"] = _rehash(out["baseline.json"])
    return out


def _rehash(text: str) -> str:
    """The pinned baseline's content hash covers the suite path: recompute it over the normalised file."""
    import json

    from evalkit.records import stable_hash

    data = json.loads(text)
    data["content_hash"] = stable_hash({k: v for k, v in data.items() if k != "content_hash"})
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _report(run: Path) -> None:
    """Rate and report one run the way `compare` does after scoring."""
    from evalkit.pipeline import RunContext, ensure_rated, ensure_reported

    ctx = RunContext.load(run)
    ensure_reported(ctx, ensure_rated(ctx, force=True))


def _regress_md(result) -> str:
    from evalkit.report.regress import render_md

    return render_md(result)


def _json(result) -> str:
    import json

    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


NAMES = ["summary.json", "scores.jsonl", "rating.json", "report.md", "report.html", "baseline.json", "regress.md",
         "regress.json", "leaderboard.md", "leaderboard.csv", "leaderboard.json", "leaderboard.html"]


@pytest.mark.parametrize("name", NAMES)
def test_golden_run_is_byte_identical(golden_outputs: dict[str, str], name: str) -> None:
    path = GOLDEN / name
    if os.environ.get("EVALKIT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(golden_outputs[name], encoding="utf-8")
    assert golden_outputs[name] == path.read_text(encoding="utf-8")
