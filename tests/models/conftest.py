"""Servers for the openai backend tests: `transformers serve` on a tiny random Llama, and a
misbehaving OpenAI-compatible server (openai_server.py). Loopback only; every wait is bounded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
FAULT_SERVER = HERE / "openai_server.py"
WORDS = ("once upon a time there was a brave little fox who found a map in the forest and the dragon "
         "and the robot sailed to a new planet where mia solved the mystery of the missing key with "
         "a clue from her friend the owl they laughed and went home happy").split()


def openai_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openai_wait_ready(url: str, proc: subprocess.Popen, limit_s: float, log: Path | None = None) -> None:
    import httpx

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready: {tail}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server at {url} not ready within {limit_s}s")


def openai_stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class FaultServer:
    """Handle on one openai_server.py process."""

    port: int
    proc: subprocess.Popen

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def configure(self, **config: Any) -> None:
        import httpx

        httpx.post(f"{self.root}/_control", json=config, timeout=5).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        import httpx

        return httpx.get(f"{self.root}/_log", timeout=5).json()


SERVING_EXTRA = "the test servers need uvicorn and starlette: pip install 'evalkit[serving]'"


def openai_start_fault_server(port: int | None = None, **config: Any) -> FaultServer:
    pytest.importorskip("uvicorn", reason=SERVING_EXTRA)
    pytest.importorskip("starlette", reason=SERVING_EXTRA)
    port = port or openai_free_port()
    proc = subprocess.Popen([sys.executable, str(FAULT_SERVER), "--port", str(port), "--config", json.dumps(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        openai_wait_ready(f"http://127.0.0.1:{port}/health", proc, 20)
    except RuntimeError:
        openai_stop(proc)
        raise
    return FaultServer(port, proc)


@pytest.fixture
def openai_start_server():
    """A factory: start a fresh misbehaving server (optionally on a given port); all are stopped after the test."""
    started: list[FaultServer] = []

    def start(port: int | None = None, **config: Any) -> FaultServer:
        server = openai_start_fault_server(port, **config)
        started.append(server)
        return server

    yield start
    for server in started:
        openai_stop(server.proc)


@pytest.fixture(scope="session")
def openai_fault_server():
    """One misbehaving server for the session; each test configures it (which resets its log)."""
    server = openai_start_fault_server()
    yield server
    openai_stop(server.proc)


@pytest.fixture(scope="session")
def openai_tiny_model_dir(tmp_path_factory) -> Path:
    """A random-weight 2-layer Llama with a word-level tokenizer and a chat template: it writes
    words (not byte soup), samples when asked, and loads in well under a second."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("openai-tiny-llama")
    specials = ["<unk>", "<s>", "</s>"]
    vocab = {w: i for i, w in enumerate(specials + sorted(set(WORDS) | set(".,:;!?-()[]'")))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}assistant :{% endif %}")
    fast.save_pretrained(out)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model = LlamaForCausalLM(cfg)
    model.generation_config = GenerationConfig(do_sample=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model.save_pretrained(out)
    return out


@dataclass
class ServedModel:
    base_url: str
    model: str  # the name the server answers to: the model folder
    proc: subprocess.Popen


@pytest.fixture(scope="session")
def openai_transformers_server(openai_tiny_model_dir, tmp_path_factory):
    """`transformers serve` on 127.0.0.1 serving the tiny model folder, offline, on the CPU."""
    pytest.importorskip("fastapi", reason=SERVING_EXTRA)
    pytest.importorskip("uvicorn", reason=SERVING_EXTRA)
    exe = Path(sys.executable).with_name("transformers")
    if not exe.exists():
        pytest.skip(f"no `transformers` command next to {sys.executable}")
    port = openai_free_port()
    log = tmp_path_factory.mktemp("openai-serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    with open(log, "wb") as f:
        proc = subprocess.Popen([str(exe), "serve", str(openai_tiny_model_dir), "--host", "127.0.0.1",
                                 "--port", str(port), "--device", "cpu", "--default-seed", "0"],
                                stdout=f, stderr=subprocess.STDOUT, env=env)
    try:
        openai_wait_ready(f"http://127.0.0.1:{port}/health", proc, 90, log)
        yield ServedModel(f"http://127.0.0.1:{port}/v1", str(openai_tiny_model_dir), proc)
    finally:
        openai_stop(proc)
