"""The default generator and embedder load with no network; bad specs fail with a hint.

The real-model tests are ``slow`` (deselected by default; ``make test`` runs them). The
error-path tests need no model and always run.
"""

from __future__ import annotations

import os

import pytest

from core.errors import ModelLoadError


@pytest.mark.slow
def test_default_generator_loads_offline_and_generates(smollm2, session_workspace):
    import torch

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert "smollm2" in smollm2.name.lower()
    assert (session_workspace.root / "models").is_dir()
    assert not getattr(smollm2.model, "is_quantized", False)  # the converted copy, trainable
    tok = smollm2.tokenizer
    assert tok.padding_side == "left" and tok.pad_token is not None
    prompt = tok.apply_chat_template([{"role": "user", "content": "List files in a folder."}], tokenize=False, add_generation_prompt=True)
    batch = tok([prompt], return_tensors="pt")
    with torch.no_grad():
        out = smollm2.model.generate(**batch, max_new_tokens=8, do_sample=False)
    text = tok.decode(out[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    assert out.shape[1] > batch["input_ids"].shape[1] and isinstance(text, str)


@pytest.mark.slow
def test_default_generator_second_load_uses_the_converted_copy(smollm2, session_workspace):
    from tuning.models import converted_path, load_base_model

    path = converted_path(session_workspace)
    assert (path / "config.json").is_file()
    again = load_base_model(None, session_workspace)
    assert again.path == str(path)


@pytest.mark.slow
def test_default_embedder_loads_offline_and_embeds(minilm):
    vectors = minilm.encode(["list files", "show running containers"], normalize_embeddings=True)
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4


def test_missing_model_path_says_what_to_pass(workspace, tmp_path):
    from tuning.models import load_base_model

    with pytest.raises(ModelLoadError, match="does not exist"):
        load_base_model(str(tmp_path / "no-such-model"), workspace)
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        load_base_model(str(empty), workspace)


def test_unknown_hub_id_offline_gives_a_hint(workspace):
    from tuning.models import load_base_model

    with pytest.raises(ModelLoadError, match="local"):
        load_base_model("no-such-model-xyz", workspace)


def test_bad_embedder_path_says_what_to_pass(tmp_path):
    from rag.embedder import load_embedder, resolve_embedder

    with pytest.raises(ModelLoadError, match="sentence-transformers folder"):
        load_embedder(str(tmp_path / "missing"))
    name, path = resolve_embedder(None)
    assert name == "all-MiniLM-L6-v2" and path.is_dir()
