"""Data sets: the Pair type, loading and formats, validation, tldr import, frozen splits, readiness."""
