"""Judge fixtures: a tiny random Llama judge with room for long prompts, a models file, and a
factory for judge_server.py processes on 127.0.0.1 (stopped after each test)."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from judge_data import free_port

HERE = Path(__file__).resolve().parent
SERVER = HERE / "judge_server.py"


@pytest.fixture(scope="session")
def judge_llama_dir(tmp_path_factory, tiny_tokenizer_dir) -> Path:
    """A 2-layer random Llama with the tiny BPE tokenizer and a chat template, 4096 positions
    (the rubric prompt spells out to ~1500 byte-level tokens with that small vocabulary)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tiny_models import _save_tokenizer

    out = tmp_path_factory.mktemp("judge-llama")
    torch.manual_seed(3)
    _save_tokenizer(tiny_tokenizer_dir, out, chat=True)
    cfg = LlamaConfig(vocab_size=402, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                      bos_token_id=0, eos_token_id=0, pad_token_id=1)
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


@dataclass
class JudgeServer:
    port: int
    proc: subprocess.Popen

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def requests(self) -> list[dict]:
        import httpx

        return httpx.get(f"http://127.0.0.1:{self.port}/_log", timeout=5).json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def judge_server():
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    import httpx

    started: list[JudgeServer] = []

    def start(mode: str = "logprobs", pair: str = "first", delay: float = 0.0) -> JudgeServer:
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(SERVER), "--port", str(port), "--mode", mode, "--pair", pair,
                                 "--delay", str(delay)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = JudgeServer(port, proc)
        started.append(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"judge server exited with {proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return server
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("judge server not ready in 30 s")

    yield start
    for s in started:
        s.stop()
