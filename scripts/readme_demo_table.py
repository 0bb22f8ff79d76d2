"""Write a run's star table into README.md between the demo-table markers, so the README's demo table is
what a run of the demo produced, never typed by hand.

    .venv/bin/python scripts/readme_demo_table.py results/<run-id>           # rewrite the block
    .venv/bin/python scripts/readme_demo_table.py results/<run-id> --check   # exit 1 if README differs
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from evalkit.records import Rating, load_manifest, read_json

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- demo-table: written by scripts/readme_demo_table.py from a run folder; do not edit by hand -->"
END = "<!-- /demo-table -->"


def table(run_dir: Path) -> str:
    """The star table of the run's report.md and a line saying which run, machine and command made it."""
    rating = Rating.model_validate(read_json(run_dir / "rating.json"))
    manifest = load_manifest(run_dir)
    report = (run_dir / "report.md").read_text(encoding="utf-8").splitlines()
    start = report.index("## Star ratings") + 2
    rows = []
    for line in report[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    command = shlex.join(["evalkit", *manifest.command[1:]]) if len(manifest.command) > 1 else "evalkit compare"
    return "\n".join([*rows, "", f"`{command}`: run {rating.run_id}, evalkit {manifest.evalkit_version}, on "
                      f"{rating.device}. Inference Speed depends on the machine and on its load at the time."])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{table(a.run_dir)}\n{END}{tail}"
    if a.check:
        if new != text:
            print(f"{README} does not hold the star table of {a.run_dir}", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    print(f"wrote the star table of {a.run_dir} into {README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
