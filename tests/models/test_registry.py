import pytest

from evalkit.errors import ModelNotFound
from evalkit.models.registry import available_backends, load_presets, resolve_model


def test_builtin_presets_and_hf_backend_registered_by_entry_point():
    presets = load_presets()
    assert {"distilgpt2", "distilgpt2-base", "llama3-qlora", "smollm2-135m", "gemma3-270m"} <= set(presets)
    assert "hf" in available_backends()
    spec = resolve_model("llama3-qlora")
    assert spec.options["quantization"] == "nf4" and spec.options["adapter"].endswith("llama3-qlora")


def test_unknown_model_suggests_closest():
    with pytest.raises(ModelNotFound, match="did you mean .*smollm2-135m"):
        resolve_model("smollm-135m")


def test_paths_hub_ids_and_backend_prefix(tiny_gpt2_dir, tiny_lora_dir, tiny_llama_dir, tmp_path):
    assert resolve_model(str(tiny_gpt2_dir)).options == {"source": str(tiny_gpt2_dir)}
    spec = resolve_model(str(tiny_lora_dir))
    assert spec.options["adapter"] == str(tiny_lora_dir) and spec.options["source"] == str(tiny_llama_dir)
    assert resolve_model("org/model").options == {"source": "org/model"}
    assert resolve_model("hf:gpt2").backend == "hf"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFound, match="not a model folder"):
        resolve_model(str(empty))
    with pytest.raises(ModelNotFound, match="no such file"):
        resolve_model("./missing-folder")


def test_user_models_file_extends_and_overrides(tmp_path, monkeypatch, tiny_gpt2_dir):
    f = tmp_path / "models.toml"
    f.write_text(f'[models.mine]\nbackend = "hf"\nsource = "{tiny_gpt2_dir}"\n[models.distilgpt2]\ndtype = "float32"\n')
    spec = resolve_model("mine", models_file=f)
    assert spec.options["source"] == str(tiny_gpt2_dir)
    assert resolve_model("distilgpt2", models_file=f).options["dtype"] == "float32"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evalkit.toml").write_text(f'[models.local-one]\nbackend = "hf"\nsource = "{tiny_gpt2_dir}"\n')
    assert resolve_model("local-one").label == "local-one"
