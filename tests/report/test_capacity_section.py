"""The Capacity section and the three rows of a random-weights run when the figures are estimated from
layer prefixes (what an 8B model on a CPU gets): a real measurement of a 4-layer nf4 Llama with the qlora
recipe's LoRA timed at 1, 2 and 3 layers, stored as a run, rated and reported by the real pipeline; the
basis and error stand beside the figure in rating.json, the Numbers table and the Capacity section."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from evalkit.capacity.engine import CapacitySettings, measure_capacity
from evalkit.models.base import ModelSpec
from evalkit.pipeline import CAPACITY_FILE, report_run
from evalkit.records import CapacityRun, GenerationParams, Manifest, ModelRun, SuiteRef, write_json
from evalkit.report.capacity import HEADER
from evalkit.suites import load_suite
from tiny_models import shape_only


@pytest.fixture(scope="module")
def estimated_run(tmp_path_factory, tiny_llama_dir) -> Path:
    shape = shape_only(tiny_llama_dir, tmp_path_factory.mktemp("deep-llama"), num_hidden_layers=4)
    spec = ModelSpec("llama3-qlora", "hf", {"source": str(shape), "quantization": "nf4", "weights": "random",
                                            "adapter": str(shape / "none"), "finetune_recipe": "qlora"})
    suite = load_suite("persona-tales")
    rec = measure_capacity(spec, suite, CapacitySettings(prefixes=(1, 2, 3), measure_tokens=(4, 3), batch_size=3,
                                                         max_new_tokens=20))
    run_dir = tmp_path_factory.mktemp("results") / "20990101-000000-abcdef"
    run_dir.mkdir()
    items = suite.split("test")
    write_json(run_dir / "manifest.json", Manifest(
        run_id=run_dir.name, evalkit_version="test", python=sys.version.split()[0], status="complete",
        suite=SuiteRef(name=suite.name, path=str(suite.path), hash=suite.hash, split="test", item_ids=[i.id for i in items]),
        params=GenerationParams(max_new_tokens=20, batch_size=3),
        models=[ModelRun(label=spec.label, spec=spec.to_dict(), model_key="k", load_s=rec.load_s.value)]))
    write_json(run_dir / CAPACITY_FILE, CapacityRun(models={spec.label: rec},
                                                    training_searched={spec.label: "nowhere: not looked for"}))
    report_run(run_dir, rerate=True)
    return run_dir


def test_estimated_figures_carry_their_basis_and_error(estimated_run):
    cap = CapacityRun.model_validate(json.loads((estimated_run / CAPACITY_FILE).read_text()))
    fig = cap.models["llama3-qlora"].seconds_per_story
    assert fig.basis == "estimated from 1/2/3 of 4 layers, 3 of 20 tokens"
    rows = {r["row"]: r for r in json.loads((estimated_run / "rating.json").read_text())["rows"]}
    cell = rows["Inference Speed"]["models"]["llama3-qlora"]
    assert cell["value"] == pytest.approx(fig.value) and cell["basis"] == fig.basis and cell["stars"] is not None
    assert cell.get("error") == (pytest.approx(fig.error) if fig.error is not None else None)
    md = (estimated_run / "report.md").read_text()
    numbers = md.split("## Numbers", 1)[1].split("\n## ", 1)[0]
    speed = next(line for line in numbers.splitlines() if line.startswith("| Inference Speed"))
    assert "(estimated from 1/2/3 of 4 layers, 3 of 20 tokens)" in speed
    assert ("±" in speed) == (fig.error is not None)
    section = md.split("## Capacity", 1)[1].split("\n## ", 1)[0]
    assert "| " + " | ".join(HEADER) + " |" in section
    assert "estimated from 1/2/3 of 4 layers" in section and "Slower inference (\\~3-5 seconds per story)" in section
    assert "n/a: no training projection" in section and rows["Training Time"]["models"]["llama3-qlora"]["value"] is None


def test_the_html_capacity_table_holds_the_models_own_claims(estimated_run):
    html = (estimated_run / "report.html").read_text()
    table = html.split('<table id="capacity-table">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + 4  # header + parameters, speed, memory, training of the one model
    assert "&lt; 1 second" not in table and "estimated from 1/2/3 of 4 layers" in table  # only its own claims
    assert "`evalkit finetune llama3-qlora --random-weights --max-steps N`" in table
