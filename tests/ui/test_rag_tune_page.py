"""The RAG page's embedder fine-tuning (#19): a background job from the index's own embedder, on the split's train part."""

from __future__ import annotations

import pytest

from core.errors import RagError
from tests.app_fixtures import by_key, page_test, run_jobs_inline
from tests.rag.test_embedder_tuning import tiny_st_dir  # noqa: F401 - the tiny sentence-transformer fixture

pytestmark = pytest.mark.slow  # trains a tiny BERT for a few steps (seconds)


def test_the_rag_page_fine_tunes_the_indexs_embedder_in_the_background(workspace, sample_pages, sample_pairs, tiny_st_dir,  # noqa: F811
                                                                       monkeypatch):
    from advisor.background import start_embedder_tuning
    from rag.config import RagConfig
    from rag.corpus import load_corpus
    from rag.embedder import as_encoder
    from rag.embedder_store import verify_folder
    from rag.index import build_index
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split

    base = str(tiny_st_dir)
    build_index(workspace, "tl", load_corpus(sample_pages), as_encoder(base), RagConfig(embedder=base))
    split = make_split(load_pairs(sample_pairs), seed=0)
    save_split(workspace, split)
    monkeypatch.setenv("ADVISOR_WORKSPACE", str(workspace.root))
    monkeypatch.setattr("ui.common.encoder", lambda spec=None: as_encoder(base))
    run_jobs_inline(monkeypatch)
    monkeypatch.setattr("rag.embedder.as_encoder", as_encoder)  # the real tiny encoder, not the page tests' fake

    at = page_test("rag", timeout=300).run()
    assert not at.exception
    at.text_input(key="rag-tune-name").set_value("tl-tuned")
    at.number_input(key="rag-tune-pairs").set_value(32)
    at.button(key="rag-tune").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    done = [s.value for s in at.success if "Fine-tuned embedder" in s.value]
    assert done and "`tl-tuned`" in done[0] and "32 training pairs" in done[0], [s.value for s in at.success]
    manifest = verify_folder(workspace.root / "embedders" / "tl-tuned")
    assert manifest.data["pairs"] == 32 and manifest.data["split_version"] == split.version
    with pytest.raises(RagError, match="already exists"):
        start_embedder_tuning(workspace, "tl-tuned", "tl", split.version, {})
