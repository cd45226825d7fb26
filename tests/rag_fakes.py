"""A tiny deterministic embedder for fast rag tests: hashed bag of words, L2-normalised."""

from __future__ import annotations

import hashlib
import re

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


class FakeEncoder:
    def __init__(self, name: str = "fake-bow", dimension: int = 64) -> None:
        self.name = name
        self.dimension = dimension
        self.calls = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype="float32")
        for w in _WORD.findall(text.lower()):
            v[int(hashlib.md5(w.encode()).hexdigest()[:8], 16) % self.dimension] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed(self, texts, batch_size=64, progress=None):
        self.calls += 1
        out = np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dimension), "float32")
        if progress is not None:
            progress(len(texts), len(texts))
        return out

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]
