"""Third-party messages that alarm without helping stay off stderr; every other warning still reaches it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import logging, sys, warnings
if sys.argv[1] == "quiet":
    from core import quiet
    quiet.install()
import bitsandbytes  # on CPUs with AVX512-BF16 it logs that the optional `kernels` package is missing
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from rag.embedder import resolve_embedder

tokenizer = AutoTokenizer.from_pretrained(str(resolve_embedder(None)[1]))
tokenizer("word " * (tokenizer.model_max_length + 50))  # a whole document, tokenized to count it
model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=1))
getattr(model, "is_gradient_checkpointing")  # what peft does when it wraps a model
# The same messages from their loggers, whatever this CPU supports, and unrelated ones that must still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").warning(
    "Failed to load CPU gemm_4bit_forward from kernels-community: No module named 'kernels'. Please make sure")
logging.getLogger("bitsandbytes.backends.cpu.ops").warning("an unrelated bitsandbytes warning")
logging.getLogger("transformers.tokenization_utils_base").warning("an unrelated tokenizer warning")
warnings.warn("an unrelated future warning", FutureWarning)
"""
SILENCED = ("gemm_4bit_forward", "Token indices sequence length", "is_gradient_checkpointing")
KEPT = ("an unrelated bitsandbytes warning", "an unrelated tokenizer warning", "an unrelated future warning")


def _stderr(mode: str) -> str:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_targeted_messages_are_silenced_and_others_are_not():
    loud = _stderr("loud")
    assert all(text in loud for text in SILENCED + KEPT), loud  # the triggers are real
    quiet = _stderr("quiet")
    assert not [text for text in SILENCED if text in quiet], quiet
    assert all(text in quiet for text in KEPT), quiet


def test_install_is_idempotent_and_explains_once(caplog):
    import logging

    from core import quiet

    quiet.install()
    quiet.install()
    name = "bitsandbytes.backends.cpu.ops"
    assert sum(isinstance(f, quiet._Silence) for f in logging.getLogger(name).filters) == 1
    quiet._explained.clear()
    with caplog.at_level(logging.DEBUG, logger="core.quiet"):
        for _ in range(3):
            logging.getLogger(name).warning("Failed to load CPU gemm_4bit_forward from kernels-community: x")
    explained = [r for r in caplog.records if r.name == "core.quiet"]
    assert len(explained) == 1 and "falls back to its own" in explained[0].getMessage()
    assert not [r for r in caplog.records if r.name == name]


@pytest.mark.slow
def test_rag_build_on_a_documentation_corpus_prints_no_alarm(tmp_path):
    corpus = ROOT / "data" / "samples" / "numpy-docs" / "corpus.jsonl"
    out = subprocess.run([sys.executable, "-m", "advisor", "--workspace", str(tmp_path / "ws"), "rag", "build", "--corpus",
                          str(corpus), "--name", "np", "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert not [text for text in SILENCED if text in out.stderr], out.stderr
