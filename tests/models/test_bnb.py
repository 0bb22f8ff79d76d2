"""bitsandbytes' optional hub kernel lookup never runs under evalkit (issue 24 item 2).

bitsandbytes looks the kernel up at import time only on CPUs with AVX512-bf16. The subprocess below
makes bitsandbytes believe it runs on one (its ``has_avx512bf16`` patched as its module loads) and replaces
the ``kernels`` package's get_kernel by one that fails as the hub does offline, with the hub's own advice to
set trust_remote_code, and leaves a mark when asked. Without evalkit's guard that text reaches stderr
(the control run proves it); with it, loading a tiny Llama in nf4 with a LoRA adapter prints nothing
about it and the lookup is never attempted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HUB_ADVICE = ("Kernel repository 'kernels-community/quantization-bitsandbytes' could not verify publisher trust "
              "status. Set trust_remote_code=True or add the repository ID to the trust_remote_code allowlist")

FORCE_AVX512BF16 = textwrap.dedent('''
    import importlib.abc, importlib.machinery, sys

    class _Patch(importlib.abc.MetaPathFinder):
        """After bitsandbytes.functional loads, it reports AVX512-bf16 (the CPU path that asks the hub)."""
        def find_spec(self, name, path, target=None):
            if name != "bitsandbytes.functional":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            run = spec.loader.exec_module
            def exec_module(module):
                run(module)
                module.has_avx512bf16 = lambda: True
            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Patch())
''')

FAKE_HUB = textwrap.dedent(f'''
    import os, pathlib
    import kernels

    def get_kernel(repo_id, version=None, **kw):
        pathlib.Path(os.environ["KERNEL_MARK"]).write_text(repo_id)
        raise ValueError({HUB_ADVICE!r})

    kernels.get_kernel = get_kernel
''')


def _run(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess, Path]:
    mark = tmp_path / "asked-the-hub"
    mark.unlink(missing_ok=True)
    script = FORCE_AVX512BF16 + FAKE_HUB + textwrap.dedent(body)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KERNEL_MARK": str(mark),
           "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    return res, mark


def test_without_the_guard_bitsandbytes_asks_the_hub_and_prints_its_advice(tmp_path):
    """The control: the patched import really takes the path the issue saw."""
    pytest.importorskip("bitsandbytes")
    res, mark = _run(tmp_path, "import bitsandbytes\n")
    assert res.returncode == 0, res.stderr[-2000:]
    assert mark.exists() and "trust_remote_code" in res.stderr + res.stdout


def test_loading_a_tiny_nf4_model_with_adapter_never_asks_the_hub(tmp_path, tiny_llama_dir, tiny_lora_dir):
    pytest.importorskip("bitsandbytes")
    res, mark = _run(tmp_path, f'''
        from evalkit.models.base import ModelSpec
        from evalkit.models.hf import HFModel

        m = HFModel(ModelSpec("tiny", "hf", {{"source": {str(tiny_llama_dir)!r}, "adapter": {str(tiny_lora_dir)!r},
                                              "quantization": "nf4"}}))
        m.load()
        print("loaded", m.describe().quantization)
    ''')
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-2000:]
    assert "loaded nf4" in res.stdout
    assert "trust_remote_code" not in out and "kernels-community" not in out, out[-2000:]
    assert not mark.exists()
