"""Retrieval engine: corpus -> chunks -> embeddings -> FAISS -> retrieve -> grounded prompt -> answer."""
