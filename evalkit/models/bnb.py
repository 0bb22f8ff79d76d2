"""bitsandbytes imported without its optional hub kernel lookup.

On a CPU with AVX512-bf16, bitsandbytes (>= 0.49) tries at import time to download a gemm_4bit kernel
from the Hugging Face hub through the ``kernels`` package. Offline that fails with a warning that tells
the user to set ``trust_remote_code=True``: advice evalkit must never give, for a kernel it does not
need (bitsandbytes then uses the gemv kernel of its own shared library). Every evalkit code path that
imports bitsandbytes, peft (which imports bitsandbytes) or a 4-bit quantizer first calls
``import_bitsandbytes``, so the lookup is never attempted and nothing is printed.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from types import ModuleType

KERNEL_WARNING = "Failed to load CPU gemm_4bit_forward"  # bitsandbytes/backends/cpu/ops.py


class _DropKernelWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(KERNEL_WARNING)


def import_bitsandbytes() -> ModuleType | None:
    """bitsandbytes, imported once with the ``kernels`` package hidden (so its hub lookup raises
    ImportError at once and bitsandbytes falls back to its own kernel); None when it is not installed.
    Exceptions of a broken install propagate, as a plain ``import bitsandbytes`` would raise them."""
    if "bitsandbytes" in sys.modules:
        return sys.modules["bitsandbytes"]
    if importlib.util.find_spec("bitsandbytes") is None:
        return None
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_DropKernelWarning())
    hidden = sys.modules.get("kernels")
    had = "kernels" in sys.modules
    sys.modules["kernels"] = None  # type: ignore[assignment]  # `from kernels import ...` -> ImportError
    try:
        import bitsandbytes
    finally:
        if had:
            sys.modules["kernels"] = hidden  # type: ignore[assignment]
        else:
            del sys.modules["kernels"]
    return bitsandbytes
