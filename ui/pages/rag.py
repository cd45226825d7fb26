"""RAG baseline: build an index with a progress bar, try questions and see the retrieved chunks, evaluate."""

from __future__ import annotations

import streamlit as st

from ui import common
from ui.common import empty_state, guard, guarded, has_library, recall, remember, workspace

STAGES = {"chunk": "Chunking documents", "embed": "Embedding chunks", "index": "Building the FAISS index"}


def _build(ws) -> None:
    from advisor.app_support import corpus_sources
    from core.config import from_dict
    from rag.config import RagConfig

    st.subheader("1. Build an index")
    sources = corpus_sources(ws)
    paths = [str(s.path) for s in sources]
    wanted = recall("pick-corpus")
    corpus = st.selectbox("Corpus", sources, index=paths.index(wanted) if wanted in paths else 0,
                          format_func=lambda s: s.label, key="rag-corpus",
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
    if not st.button("Build index", type="primary", key="rag-build"):
        return
    with guard():
        from rag.corpus import load_corpus
        from rag.index import build_index

        config = from_dict(RagConfig, {"chunk_size": int(chunk_size), "chunk_overlap": int(overlap),
                                       "retriever": retriever, "embedder": embedder or None})
        docs = load_corpus(corpus.path)
        enc = common.encoder(embedder or None)
        bar = st.progress(0.0, text="Starting...")

        def progress(stage: str, done: int, total: int) -> None:
            bar.progress(min(1.0, done / total) if total else 1.0, text=f"{STAGES.get(stage, stage)}: {done}/{total}")

        result = build_index(ws, name, docs, enc, config, progress=progress)
        bar.progress(1.0, text="Done")
        remember("index", name)
        what = "Reused the identical existing index" if result.reused else "Built"
        st.success(f"{what} `{name}`: {len(result.index)} chunks from {len(docs.documents)} documents "
                   f"in {result.seconds:.1f} s.", icon=":material/check_circle:")


def _indexes(ws) -> list[str]:
    from rag.index import list_indexes

    rows = list_indexes(ws)
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    return [r["name"] for r in rows if "error" not in r]


def _try(ws, names: list[str]) -> None:
    from rag.index import open_index
    from rag.retrieve import make_retriever

    st.subheader("2. Try questions")
    wanted = recall("index")
    name = st.selectbox("Index", names, index=names.index(wanted) if wanted in names else 0, key="rag-try-index")
    question = st.text_input("Question", key="rag-question", placeholder="e.g. list all running docker containers")
    k = st.slider("Chunks to retrieve", 1, 10, 3, key="rag-k")
    if not question:
        st.caption("Type a question to see which chunks the retriever finds, with their sources.")
        return
    with guard():
        index = open_index(ws, name)
        enc = common.encoder(index.config.embedder)
        hits = make_retriever(index, enc, index.config).search([question], k)[0]
        if not hits:
            st.warning("Nothing retrieved: the index may be empty.")
        for rank, hit in enumerate(hits, start=1):
            with st.container(border=True):
                st.markdown(f"**{rank}. `{hit.doc_id}`** · chunk `{hit.chunk_id}` (#{hit.position}) · score {hit.score:.3f}")
                st.text(hit.text)


def _evaluate(ws, names: list[str]) -> None:
    st.subheader("3. Evaluate on the frozen test split")
    splits = ws.names("splits")
    if not splits:
        empty_state("No frozen split yet: freeze one on the Data page, then evaluate the index on its test part.",
                    page="Data")
        return
    if not has_library("rag.pipeline"):
        st.info("Answer generation arrives with `rag/pipeline.py` (update the project); retrieval above works.")
        return
    from advisor.app_support import evaluate_rag

    c1, c2 = st.columns(2)
    name = c1.selectbox("Index", names, key="rag-eval-index")
    wanted = recall("split")
    version = c2.selectbox("Split", splits, index=splits.index(wanted) if wanted in splits else 0, key="rag-eval-split")
    limit = st.number_input("Test items (0: all)", 0, 100_000, 0, key="rag-eval-limit",
                            help="Evaluate on the first N test items for a quick look; the leaderboard records N.")
    st.caption("Generates an answer for every test item with the default generator (SmolLM2-135M on CPU: about "
               "0.1-0.5 s per item) and records a leaderboard row with intervals.")
    if st.button("Run the evaluation", type="primary", key="rag-eval"):
        with guard():
            bar = st.progress(0.0, text="Loading the generator...")
            generator = common.generator(None, ws)

            def progress(done: int, total: int) -> None:
                bar.progress(min(1.0, done / total) if total else 1.0, text=f"Answering test items: {done}/{total}")

            result = evaluate_rag(ws, name, version, limit=int(limit) or None, generator=generator, progress=progress)
            bar.progress(1.0, text="Done")
            st.success(f"Run `{result.run_id}` recorded on the leaderboard.", icon=":material/leaderboard:")
            st.dataframe([{"metric": m, "mean": s.mean, "low": s.low, "high": s.high} for m, s in result.scores.items()],
                         hide_index=True)
            common.link("Leaderboard", "See it on the leaderboard")


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
