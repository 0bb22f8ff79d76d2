import os
import subprocess
import sys


def test_models_lists_presets_and_what_runs_here(tmp_path, tiny_gpt2_dir):
    f = tmp_path / "m.toml"
    f.write_text(f'[models.mine]\nbackend = "hf"\nsource = "{tiny_gpt2_dir}"\n[models.gone]\nbackend = "hf"\nsource = "{tmp_path / "nope"}"\n')
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty"), "COLUMNS": "250"}
    res = subprocess.run([sys.executable, "-m", "evalkit.cli", "models", "--models-file", str(f)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = {line.split("│")[1].strip(): line for line in res.stdout.splitlines() if line.count("│") > 3}
    assert {"distilgpt2", "llama3-qlora", "smollm2-135m", "gemma3-270m", "mine", "gone"} <= set(rows)
    assert "yes" in rows["mine"]
    assert "not in the local Hugging Face cache" in rows["distilgpt2-base"]
    assert rows["gone"].split("│")[3].strip().startswith("no:")  # not available, and says why
