"""Presets that name files shipped inside the evalkit package ("{package}/…"): resolved in one place,
loaded like any adapter, and a preset whose packaged adapter is absent says so instead of running."""

from pathlib import Path

import pytest

from evalkit.errors import WeightsMissing
from evalkit.models import registry
from evalkit.models.hf import HFModel
from evalkit.models.registry import PACKAGE_DIR, package_path, resolve_model


def test_package_prefix_becomes_a_path_inside_the_installed_package():
    import evalkit

    got = package_path("{package}/adapters/x")
    assert got == str(PACKAGE_DIR / "adapters" / "x") and PACKAGE_DIR == Path(evalkit.__file__).resolve().parent
    assert package_path("results/adapters/x") == "results/adapters/x"  # relative paths stay relative to the cwd
    assert package_path(3) == 3


def test_preset_with_packaged_adapter_resolves_and_loads(tiny_llama_dir, tiny_lora_dir, tmp_path, monkeypatch):
    import shutil

    pkg = tmp_path / "pkg"
    shutil.copytree(tiny_lora_dir, pkg / "adapters" / "tiny-persona")
    monkeypatch.setattr(registry, "PACKAGE_DIR", pkg)
    models = tmp_path / "models.toml"
    models.write_text(f'[models.tiny-persona]\nbackend = "hf"\nsource = "{tiny_llama_dir}"\n'
                      'adapter = "{package}/adapters/tiny-persona"\nrequires_adapter = true\n')
    spec = resolve_model("tiny-persona", models_file=models)
    assert spec.options["adapter"] == str(pkg / "adapters" / "tiny-persona")
    m = HFModel(spec)
    assert m.availability() is None
    m.load()
    from peft import PeftModel

    assert isinstance(m.model, PeftModel) and m.describe().adapter == spec.options["adapter"]
    m.close()
    # the same preset without the packaged files is not runnable, and says why in one line
    shutil.rmtree(pkg / "adapters" / "tiny-persona")
    missing = HFModel(resolve_model("tiny-persona", models_file=models))
    why = missing.availability()
    assert why and "not in this install" in why and "tiny-persona.adapter=PATH" in why
    with pytest.raises(WeightsMissing, match="not in this install"):
        missing.load()


def test_demo_persona_preset_points_into_the_package():
    spec = resolve_model("smollm2-135m-persona")
    assert spec.options["adapter"] == str(PACKAGE_DIR / "adapters" / "smollm2-135m-persona-tales")
    assert spec.options["gguf_package"] == resolve_model("smollm2-135m").options["gguf_package"]
    m = HFModel(spec)
    if not (PACKAGE_DIR / "adapters" / "smollm2-135m-persona-tales" / "adapter_config.json").is_file():
        assert "not in this install" in (m.availability() or "")
