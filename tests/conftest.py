"""Shared fixtures: tiny random-weight models built and saved locally (no hub), and a results folder.

- tiny_tokenizer_dir: a real byte-level BPE tokenizer trained on a few sentences, with a chat template
- tiny_gpt2_dir: a GPT-2-architecture model (the distilgpt2 code path)
- tiny_llama_dir + tiny_lora_dir: a Llama-architecture model and a LoRA adapter on q/k/v/o
  (loaded in nf4 4-bit by the tests: the llama3-qlora code path)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from run_folders import make_run
from tiny_models import build_lora, build_tiny_gpt2, build_tiny_llama, build_tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"), tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_lora_dir(tmp_path_factory: pytest.TempPathFactory, tiny_llama_dir: Path) -> Path:
    return build_lora(tiny_llama_dir, tmp_path_factory.mktemp("tiny-lora"))


@pytest.fixture()
def results_dir(tmp_path: Path) -> Path:
    return tmp_path / "results"


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scored two-model run folder (run_folders.make_run): stored stories, real cheap scorers."""
    return make_run(tmp_path_factory.mktemp("report"))


@pytest.fixture()
def run_builder():
    """make_run itself, for tests that need their own run (other labels, files removed)."""
    return make_run
