"""Regenerate docs/metrics.md: a thin wrapper over ``evalkit validate`` (the validation is a product
feature now; this script only spells out the documented command).

    .venv/bin/python validation/run_validation.py        # = evalkit validate <data>/hanna_dev.csv --cv 5 --docs docs/metrics.md

Data: EVALKIT_VALIDATION_DIR or ../shared/validation (read in place, never copied here).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    from evalkit.cli import main as evalkit_main
    from evalkit.validate.checks import data_dir

    d = data_dir()
    if d is None:
        raise SystemExit("validation data not found: set EVALKIT_VALIDATION_DIR or put it in ../shared/validation")
    evalkit_main(["validate", str(d / "hanna_dev.csv"), "--cv", "5", "--docs", str(REPO / "docs" / "metrics.md"),
                  *(argv if argv is not None else sys.argv[1:])])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
