"""Write a cross-validated fit from validation.json into a scorer's weight table (no hand-typed weights).

    python -m evalkit.validate.ship results/validation/validation.json cv:coherence:Coherence \\
        evalkit/scorers/coherence.py PARTS SCALE

replaces the ``PARTS = {...}`` table and the ``SCALE = x`` line of the module with the refit's weights,
means, sds and scale. The refit's penalty was chosen by grouped CV; its agreement on the same file is
in-sample, the cross-validated row of the same name is the honest figure.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from evalkit.records import read_json
from evalkit.validate.record import ValidationRecord


def table_source(rec: ValidationRecord, name: str, table: str, scale_name: str) -> tuple[str, str]:
    fit = next((f for f in rec.fitted if f.name == name), None)
    if fit is None:
        raise SystemExit(f"{name}: not among the fitted combinations ({', '.join(f.name for f in rec.fitted)})")
    rows = "\n".join(f'    "{k}": ({fit.full_fit_weights[k]:+.4f}, {fit.full_fit_means[k]:.4f}, {fit.full_fit_sds[k]:.4f}),'
                     for k in fit.features)
    head = f"{table}: dict[str, tuple[float, float, float]] = {{\n"
    return head + rows + "\n}", f"{scale_name} = {fit.full_fit_scale:.4f}"


def ship(validation_json: str, name: str, module: str, table: str, scale_name: str) -> None:
    rec = ValidationRecord.model_validate(read_json(validation_json))
    src, scale = table_source(rec, name, table, scale_name)
    path = Path(module)
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(rf"^{table}: dict\[str, tuple\[float, float, float\]\] = \{{\n.*?^\}}", src, text, flags=re.S | re.M)
    text, m = re.subn(rf"^{scale_name} = [-+0-9.e]+", scale, text, flags=re.M)
    if n != 1 or m != 1:
        raise SystemExit(f"{module}: did not find exactly one {table} table and one {scale_name} line")
    path.write_text(text, encoding="utf-8")
    print(f"{module}: {table} and {scale_name} from {name} ({rec.source}, {rec.cv_folds}-fold grouped CV)")


if __name__ == "__main__":
    ship(*sys.argv[1:6])
