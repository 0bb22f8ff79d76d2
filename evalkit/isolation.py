"""Each model generates in a fresh child process, so its memory figure does not depend on the models
before it.

Measured in one process, a model's peak RSS minus the RSS before it loads depends on the order: after a
first model, the baseline still holds memory the allocator kept from it (issue 16 saw SmolLM2 at 1.07 GB
first and 0.54 GB after Gemma 3). ``run_model_isolated`` runs ``generate.generate_model`` for one model in
a child started with multiprocessing's spawn method (a fresh interpreter, nothing inherited but the
arguments), so every model is measured from the same empty start. The parent keeps the run: the child
appends the stories to the run's and the cache's files (locked appends, as a resumed run does), sends
its progress events over a queue to the parent's RunProgress, and returns the ModelRun it filled in.
A model with nothing to generate (every story cached) runs in-process: it loads nothing. A GGUF base
seen for the first time is converted beforehand in a process of its own, so the one-time conversion
is in neither model's memory nor load time.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue as queue_module
import signal
import sys
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.generate import Candidate, generate_model, needs_generation
from evalkit.measure import hardware
from evalkit.models.gguf import dequantized_folder, dequantized_location
from evalkit.models.registry import load_backend
from evalkit.records import ModelRun
from evalkit.threads import ThreadPolicy, adopt, current, die_with_parent

POLL_S = 0.2


class _QueueProgress:
    """RunProgress in the child: every call goes to the parent as (method, args)."""

    def __init__(self, q: Any) -> None:
        self.q = q

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self.q.put(("progress", name, args))


def run_model_isolated(c: Any, mrun: Any, suite: Any, items: Any, params: Any, run_dir: Path, cache: Path,
                       progress: Any, samples: int = 1) -> None:
    """``generate.generate_model`` in a spawned child (when the model will load), updating ``mrun`` in place."""
    if c.model.remote or not needs_generation(c, items, params, cache, samples):
        generate_model(c, mrun, suite, items, params, run_dir, cache, progress, samples)
        return
    ctx = multiprocessing.get_context("spawn")
    _convert_first(c, ctx)
    q = ctx.Queue()
    proc = ctx.Process(target=_child, name=f"evalkit-{mrun.label}", daemon=True,
                       args=(c.spec, c.key, mrun.model_dump(mode="json", by_alias=True), suite, list(items), params,
                             str(run_dir), str(cache), q, samples, current()))
    proc.start()
    result: tuple[Any, ...] | None = None
    try:
        while result is None:
            try:
                msg = q.get(timeout=POLL_S)
            except queue_module.Empty:
                if not proc.is_alive():
                    try:  # its last message may have landed just before it exited
                        msg = q.get(timeout=1.0)
                    except queue_module.Empty:
                        raise EvalkitError(f"{mrun.label}: the process generating its stories died "
                                           f"(exit code {proc.exitcode}); rerun the same command to resume") from None
                else:
                    continue
            if msg[0] == "progress":
                getattr(progress, msg[1])(*msg[2])
            else:
                result = msg
        proc.join()
    except BaseException:
        # Ctrl-C at a terminal reaches the child too (same process group); a SIGINT sent to this
        # process alone is passed on. Either way the child writes what it has, then exits.
        proc.join(timeout=2)
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGINT)
            proc.join(timeout=10)
        for stop in (proc.terminate, proc.kill):  # every wait bounded: an interrupted run always ends
            if proc.is_alive():
                stop()
                proc.join(timeout=5)
        raise
    kind, state, error, gpu = result
    if gpu:
        import torch  # noqa: F401  the run's hardware() names the GPU only when torch is imported here

    if state is not None:
        filled = ModelRun.model_validate(state)
        for name in ModelRun.model_fields:
            setattr(mrun, name, getattr(filled, name))
    if kind == "error":
        raise error


def _convert_first(c: Any, ctx: Any) -> None:
    """A GGUF base not yet converted (first run, empty cache) is converted in a process of its own:
    neither the conversion's memory nor its time is counted as the model's, whichever model needs it."""
    resolved = getattr(c.model, "resolved", None)
    try:
        gguf = resolved().get("gguf") if callable(resolved) else None
    except Exception:
        return  # the model's own process reports what is wrong
    if not gguf:
        return
    done = dequantized_location(gguf)
    if (done / "config.json").is_file() and any(done.glob("*.safetensors")):
        return
    proc = ctx.Process(target=_convert, args=(gguf, current()), name="evalkit-gguf", daemon=True)
    proc.start()
    proc.join()  # a failure here is reported again, in one line, by the model's own load


def _convert(gguf: str, policy: ThreadPolicy) -> None:
    die_with_parent()
    adopt(policy)
    try:
        dequantized_folder(gguf)
    except BaseException:  # noqa: BLE001 - the model's own load reports it in one line; no traceback here
        raise SystemExit(1) from None


def _child(spec: Any, key: str, state: dict[str, Any], suite: Any, items: list[Any], params: Any, run_dir: str,
           cache: str, q: Any, samples: int = 1, policy: ThreadPolicy | None = None) -> None:
    die_with_parent()
    if policy is not None:  # before the model's load imports torch: the parent's thread counts
        adopt(policy)
    mrun = ModelRun.model_validate(state)
    try:
        model = load_backend(spec.backend)(spec)
        generate_model(Candidate(spec, model, key), mrun, suite, items, params, Path(run_dir), Path(cache),
                   _QueueProgress(q), samples)
        mrun.torch_threads = _torch_threads()
    except BaseException as e:  # the parent re-raises it (KeyboardInterrupt included)
        q.put(("error", mrun.model_dump(mode="json", by_alias=True), _picklable(e), _gpu()))
    else:
        q.put(("done", mrun.model_dump(mode="json", by_alias=True), None, _gpu()))
    q.close()
    q.join_thread()


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def _gpu() -> str | None:
    return hardware().get("gpu") if "torch" in sys.modules else None


def _picklable(e: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        return EvalkitError(f"{type(e).__name__}: {e}")
