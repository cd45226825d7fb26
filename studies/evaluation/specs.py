"""Every system kind the product ships, built from a spec string: where callers get ``make_system``.

``studies.evaluation.systems`` registers base, lora, rag and rag+lora; importing
``example_systems`` here registers rag-examples, rag-examples:vote and rag-examples+lora.
"""

from __future__ import annotations

from studies.evaluation import example_systems  # noqa: F401 - registers the example-retrieval kinds
from studies.evaluation.systems import make_system, system_kinds

__all__ = ["make_system", "system_kinds"]
