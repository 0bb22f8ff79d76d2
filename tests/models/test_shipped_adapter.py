"""The demo's LoRA adapter ships inside the package (issue 16) and names its base by preset, not by a
path on the machine that trained it: it resolves by preset or by folder, and a wrong base is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.models.hf import HFModel
from evalkit.models.registry import PACKAGE_DIR, resolve_model

ADAPTER = PACKAGE_DIR / "adapters" / "smollm2-135m-persona-tales"


def _adapter_named(tiny_lora_dir: Path, dest: Path, base: str) -> Path:
    shutil.copytree(tiny_lora_dir, dest)
    cfg = json.loads((dest / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = base
    (dest / "adapter_config.json").write_text(json.dumps(cfg))
    return dest


def test_an_adapter_naming_a_preset_checks_the_base_it_is_loaded_on(tiny_gpt2_dir, tiny_llama_dir, tiny_lora_dir,
                                                                     tmp_path, monkeypatch):
    from peft import PeftModel

    monkeypatch.chdir(tmp_path)  # ./evalkit.toml: the presets the adapters name
    Path("evalkit.toml").write_text(f'[models.tiny-llama-base]\nbackend = "hf"\nsource = "{tiny_llama_dir}"\n'
                                    f'[models.tiny-gpt2-base]\nbackend = "hf"\nsource = "{tiny_gpt2_dir}"\n')
    right = _adapter_named(tiny_lora_dir, tmp_path / "right", "tiny-llama-base")
    spec = resolve_model(str(right))  # by folder: the base comes from the preset it names
    assert spec.options == {"source": str(tiny_llama_dir), "adapter": str(right)}
    m = HFModel(spec)
    m.load()
    assert isinstance(m.model, PeftModel)
    m.close()
    wrong = _adapter_named(tiny_lora_dir, tmp_path / "wrong", "tiny-gpt2-base")
    bad = HFModel(resolve_model(str(tiny_llama_dir), overrides={"adapter": str(wrong)}))
    with pytest.raises(EvalkitError, match=r"trained for tiny-gpt2-base.*model_type"):
        bad.load()


def test_the_shipped_persona_adapter_names_its_preset_and_its_training():
    if not (ADAPTER / "adapter_config.json").is_file():
        pytest.skip("the persona adapter is not in this install")
    cfg = json.loads((ADAPTER / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == "smollm2-135m"  # no machine's path
    assert cfg["peft_type"] == "LORA" and set(cfg["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    record = json.loads((ADAPTER / "training_record.json").read_text())
    assert record["wall_time_s"] > 0
    assert str(Path.home()) not in json.dumps(cfg) and "/tmp/" not in json.dumps(cfg)
    spec = resolve_model("smollm2-135m-persona")
    base = resolve_model("smollm2-135m")
    by_folder = resolve_model(str(ADAPTER))
    assert by_folder.options["gguf_package"] == base.options["gguf_package"] == spec.options["gguf_package"]
    assert by_folder.options["adapter"] == spec.options["adapter"] == str(ADAPTER)
    model = HFModel(spec)
    assert model.training_record().wall_time_s == record["wall_time_s"]  # the Training Time row
    if model.availability() is None:  # the base GGUF is installed: the adapter's base is that base
        from evalkit.models.hf_adapter import declared_folder
        from evalkit.models.gguf import dequantized_location

        assert declared_folder("smollm2-135m", lambda s: HFModel(s).resolved()) == str(dequantized_location(model.resolved()["gguf"]))


def test_finetune_names_a_packaged_gguf_base_by_its_preset(tiny_llama_dir):
    from evalkit.finetune.basemodel import BaseModelRef

    spec = resolve_model("smollm2-135m")
    ref = BaseModelRef(label="smollm2-135m", spec=spec, source="/site/x.gguf", folder=Path("/f"), gguf="/site/x.gguf",
                       fingerprint="f")
    assert ref.adapter_base == "smollm2-135m"
    local = resolve_model(str(tiny_llama_dir))
    ref = BaseModelRef(label=local.label, spec=local, source=str(tiny_llama_dir), folder=tiny_llama_dir, gguf=None,
                       fingerprint="f")
    assert ref.adapter_base == str(tiny_llama_dir.resolve())  # a folder of this machine stays a path
