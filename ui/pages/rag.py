"""RAG baseline: build an index (in the background, with every stage shown), try questions and see the
retrieved chunks, evaluate on the frozen test split (in the background, leakage controlled)."""

from __future__ import annotations

import streamlit as st

from ui import common
from ui.common import empty_state, guard, guarded, job_panel, workspace
from ui.state import picker, select


def _built(job) -> None:
    r = job.result
    what = "Reused the identical existing index" if r.get("reused") else "Built"
    st.success(f"{what} {r['name']}: {r['chunks']} chunks from {r['documents']} documents in {r['seconds']} s.",
               icon=":material/check_circle:")


def _build(ws) -> None:
    from advisor.background import RAG_BUILD, start_rag_build
    from rag.config import RagConfig
    from studies.data.sources import corpus_sources

    st.subheader("1. Build an index")
    corpus = picker("Corpus", corpus_sources(ws), key="rag-corpus", remember_as="pick-corpus",
                    ident=lambda s: str(s.path), format_func=lambda s: s.label,
                    help="Upload your own on the Data page; the bundled tldr pages work as a demo.")
    name = st.text_input("Index name", value="tldr-rag", key="rag-name",
                         help="Letters, digits, '.', '_', '-'; the index lives in <workspace>/indexes/<name>.")
    with st.expander("Settings (defaults are a good start)"):
        c1, c2, c3 = st.columns(3)
        chunk_size = c1.number_input("Chunk size (tokens)", 8, 4096, RagConfig.chunk_size, key="rag-chunk",
                                     help="Target chunk size in tokens of the embedder's tokenizer.")
        overlap = c2.number_input("Chunk overlap (tokens)", 0, 4095, RagConfig.chunk_overlap, key="rag-overlap",
                                  help="Tokens repeated at the start of the next chunk of the same section.")
        retriever = c3.selectbox("Retriever", ["hybrid", "dense", "bm25"], key="rag-retriever",
                                 help="dense: FAISS over embeddings; bm25: lexical; hybrid: both, fused by rank.")
        embedder = st.text_input("Embedder (blank: all-MiniLM-L6-v2)", key="rag-embedder",
                                 help="A local sentence-transformers folder, or the name of a fine-tuned embedder of this "
                                      "workspace (`advisor rag tune-embedder`; it is checked before use). No model hub is contacted.")
    if st.button("Build index", type="primary", key="rag-build"):
        with guard():
            job = start_rag_build(ws, name, str(corpus.path), {"chunk_size": int(chunk_size),
                                  "chunk_overlap": int(overlap), "retriever": retriever, "embedder": embedder or None})
            select("index", job.params["name"])
    job_panel(ws, RAG_BUILD, _built)


def _indexes(ws) -> list[str]:
    from rag.index import list_indexes

    rows = list_indexes(ws)
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    return [r["name"] for r in rows if "error" not in r and "-eval-" not in r["name"]]


def _try(ws, names: list[str]) -> None:
    from rag.index import open_index
    from rag.retrieve import make_retriever

    st.subheader("2. Try questions")
    name = picker("Index", names, key="rag-try-index", remember_as="index")
    question = st.text_input("Question", key="rag-question", placeholder="e.g. list all running docker containers")
    k = st.slider("Chunks to retrieve", 1, 10, 3, key="rag-k")
    if not question:
        st.caption("Type a question to see which chunks the retriever finds, with their sources.")
        return
    with guard():
        index = open_index(ws, name)
        enc = common.encoder(index.config.embedder)
        hits = make_retriever(index, enc, index.config).search([question], k)[0]
        st.caption(f"Retrieved from index `{name}`.")
        if not hits:
            st.warning("Nothing retrieved: the index may be empty.")
        for rank, hit in enumerate(hits, start=1):
            with st.container(border=True):
                st.markdown(f"**{rank}. `{hit.doc_id}`** · chunk `{hit.chunk_id}` (#{hit.position}) · score {hit.score:.3f}")
                st.text(hit.text)


def _evaluated(job) -> None:
    r = job.result
    st.success(f"Run {r['run_id']} recorded on the leaderboard ({r['n']} test items).", icon=":material/leaderboard:")
    st.caption(f"Leakage control: {r['leakage_control']}.")
    st.dataframe([{"metric": m, **s} for m, s in r["scores"].items()], hide_index=True)
    common.link("Leaderboard", "See it on the leaderboard")


def _evaluate(ws, names: list[str]) -> None:
    from advisor.background import RAG_EVAL, start_rag_eval

    st.subheader("3. Evaluate on the frozen test split")
    splits = ws.names("splits")
    if not splits:
        empty_state("No frozen split yet: freeze one on the Data page, then evaluate the index on its test part.",
                    page="Data")
        return
    c1, c2 = st.columns(2)
    name = picker("Index", names, key="rag-eval-index", remember_as="index", container=c1)
    version = picker("Split", splits, key="rag-eval-split", remember_as="split", container=c2)
    limit = st.number_input("Test items (0: all)", 0, 100_000, 0, key="rag-eval-limit",
                            help="Evaluate on the first N test items for a quick look; the leaderboard records N "
                                 "and never ranks it against runs on another number of items.")
    st.caption("Each test item's own example is removed from the index first (leakage control), then the default "
               "generator (SmolLM2-135M; on a CPU about 0.1-0.5 s per item) answers every item. Runs in the "
               "background and records a leaderboard row with intervals.")
    if st.button("Run the evaluation", type="primary", key="rag-eval"):
        with guard():
            start_rag_eval(ws, name, version, int(limit) or None)
    job_panel(ws, RAG_EVAL, _evaluated)


def _tuned(job) -> None:
    r = job.result
    t = r.get("training") or {}
    st.success(f"Fine-tuned embedder `{r['name']}`: {r['pairs']} training pairs, {t.get('steps', '?')} steps in "
               f"{t.get('seconds', '?')} s. Build an index with it (Settings of step 1: Embedder `{r['name']}`) and "
               "evaluate both indexes on the same split.", icon=":material/model_training:")


def _tune_embedder(ws, names: list[str]) -> None:
    from advisor.background import EMBEDDER_TUNE, start_embedder_tuning

    st.subheader("4. Fine-tune the embedder on your pairs (optional)")
    splits = ws.names("splits")
    if not splits:
        st.caption("Freeze a split on the Data page first: the embedder learns from its train part only.")
        return
    st.caption("Teaches the retriever your questions: each training pair's question against its gold document, with "
               "hard negatives mined by this index's retriever. Test and validation documents are never seen. "
               "On a CPU about 1-5 pairs per second; it runs in the background.")
    c1, c2 = st.columns(2)
    index = picker("Index whose retriever mines the negatives", names, key="rag-tune-index", remember_as="index", container=c1)
    version = picker("Split", splits, key="rag-tune-split", remember_as="split", container=c2)
    c3, c4, c5 = st.columns(3)
    name = c3.text_input("Embedder name", value=f"{index}-tuned", key="rag-tune-name")
    epochs = c4.number_input("Epochs", 0.1, 20.0, 1.0, 0.5, key="rag-tune-epochs")
    max_pairs = c5.number_input("Training pairs (0: all)", 0, 1_000_000, 0, key="rag-tune-pairs")
    if st.button("Fine-tune the embedder", key="rag-tune", icon=":material/model_training:"):
        with guard():
            start_embedder_tuning(ws, name, index, version, {"epochs": float(epochs), "max_pairs": int(max_pairs) or None})
    job_panel(ws, EMBEDDER_TUNE, _tuned)


@guarded
def page() -> None:
    st.title("RAG baseline")
    st.caption("Retrieval-augmented generation over your corpus: the baseline every fine-tune must beat.")
    ws = workspace()
    _build(ws)
    names = _indexes(ws)
    if not names:
        empty_state("No index yet: pick a corpus above and press **Build index** (the bundled tldr pages take "
                    "about a minute on a CPU).")
        return
    _try(ws, names)
    _evaluate(ws, names)
    _tune_embedder(ws, names)
