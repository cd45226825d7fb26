"""Decision layer: questionnaire, recommendation, estimates, plans, reports and the CLI.

Importing this package stays light (no torch, transformers, faiss, duckdb): product owners'
screens and ``advisor --help`` must be instant. Heavy imports live inside the functions
that need them; ``tests/test_layering.py`` pins this.
"""

__version__ = "0.1.0"
