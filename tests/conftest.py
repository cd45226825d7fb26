"""Shared fixtures: a fresh workspace per test, the bundled sample, real models once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture
def workspace(tmp_path: Path):
    """An empty workspace in a temp folder."""
    from core.workspace import Workspace

    return Workspace.resolve(tmp_path / "ws").ensure()


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_pairs() -> Path:
    return SAMPLE / "pairs.jsonl"


@pytest.fixture(scope="session")
def sample_pages() -> Path:
    return SAMPLE / "pages.jsonl"


@pytest.fixture(scope="session")
def session_workspace(tmp_path_factory):
    """A workspace shared by the slow tests of one session (holds the converted SmolLM2 once)."""
    from core.workspace import Workspace

    return Workspace.resolve(tmp_path_factory.mktemp("session-ws")).ensure()


@pytest.fixture(scope="session")
def smollm2(session_workspace):
    """The real default generator, converted once per session (slow tests only)."""
    from tuning.models import load_base_model

    return load_base_model(None, session_workspace)


@pytest.fixture(scope="session")
def minilm():
    """The real default embedder, loaded once per session (slow tests only)."""
    from rag.embedder import load_embedder

    return load_embedder(None)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama with SmolLM2's tokenizer and chat template, saved as a local folder.

    Trains and generates in milliseconds; used wherever a test needs a real model but not a good one.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tuning.models import smollm2_gguf_path

    out = tmp_path_factory.mktemp("tiny-llama")
    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture
def fake_endpoint():
    """A local fake OpenAI-compatible endpoint (tests/openai_fake.py); yields its base URL."""
    from tests.openai_fake import serve

    yield from serve()
