"""Copy an adapter trained by `evalkit finetune` into the package (evalkit/adapters/NAME), portable:

- adapter_config.json names its base by preset when the base was a preset whose weights come from an
  installed package (smollm2-135m), never by a path on the machine that trained it;
- training_record.json keeps every figure; its paths lose the machine's prefixes (the home folder
  becomes ~, site-packages <site-packages>, this repository <repo>);
- the weights are copied as they are. Tokenizer files stay behind: the base's tokenizer is used.

    python scripts/ship_adapter.py results/adapters/smollm2-135m-persona-tales [DEST]
"""

from __future__ import annotations

import json
import shutil
import site
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = ("adapter_config.json", "adapter_model.safetensors", "training_record.json")


def portable(value, prefixes):
    if isinstance(value, str):
        for prefix, name in prefixes:
            if value.startswith(prefix):
                return name + value[len(prefix):]
        return value
    if isinstance(value, dict):
        return {k: portable(v, prefixes) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, prefixes) for v in value]
    return value


def main(argv: list[str]) -> int:
    from evalkit.models.registry import load_presets

    src = Path(argv[0])
    record = json.loads((src / "training_record.json").read_text(encoding="utf-8"))
    dest = Path(argv[1]) if len(argv) > 1 else REPO / "evalkit" / "adapters" / src.name
    dest.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((src / "adapter_config.json").read_text(encoding="utf-8"))
    label = record["base"]["label"]
    if label in load_presets() and load_presets()[label].get("gguf_package"):
        cfg["base_model_name_or_path"] = label
    prefixes = sorted([(str(p), "<site-packages>") for p in site.getsitepackages()]
                      + [(str(REPO), "<repo>"), (str(Path.home()), "~")], key=lambda x: -len(x[0]))
    (dest / "adapter_config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    (dest / "training_record.json").write_text(json.dumps(portable(record, prefixes), indent=2) + "\n",
                                               encoding="utf-8")
    shutil.copyfile(src / "adapter_model.safetensors", dest / "adapter_model.safetensors")
    print(f"shipped {', '.join(FILES)} -> {dest} (base: {cfg['base_model_name_or_path']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
