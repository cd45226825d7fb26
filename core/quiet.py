"""Third-party messages that alarm without helping, silenced in one place: each one named, matched narrowly, explained.

Every entry matches one library's logger (or one warning category) AND the start of one message, so
anything else those libraries say still reaches stderr. :func:`install` is cheap (it imports no
library: logging filters attach to loggers by name) and idempotent; the CLI, the app and the model
and embedder loaders call it before the libraries load. The first time a logging entry silences a
message, its explanation is logged once at DEBUG on ``core.quiet``.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quieted:
    """One message silenced, and why it does not help the person reading stderr."""

    starts: str
    """The beginning of the message (matched literally)."""
    why: str
    logger: str | None = None
    """The library logger that emits it (logging messages)."""
    category: type[Warning] | None = None
    """The warning category (``warnings.warn`` messages)."""


QUIETED: tuple[Quieted, ...] = (
    Quieted("Failed to load CPU gemm_4bit_forward from kernels-community",
            "bitsandbytes tries an optional `kernels` package for a faster CPU 4-bit kernel and falls back to its own; "
            "QLoRA on the CPU works without it (install `kernels` only for speed)",
            logger="bitsandbytes.backends.cpu.ops"),
    Quieted("Token indices sequence length is longer than the specified maximum",
            "texts are tokenized whole on purpose (counting a document's tokens to chunk it, a prompt before it is cut "
            "to max_prompt_tokens); no sequence longer than the model's limit ever reaches the model",
            logger="transformers.tokenization_utils_base"),
    Quieted("`is_gradient_checkpointing` is deprecated",
            "peft reads a transformers property that transformers renamed; nothing to change on our side",
            category=FutureWarning),
)

_installed = False
_explained: set[str] = set()


class _Silence(logging.Filter):
    """Drops the records of one logger whose message starts with one of ``entries``' texts."""

    def __init__(self, entries: list[Quieted]) -> None:
        super().__init__()
        self.entries = entries

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is not ours to judge
            return True
        for entry in self.entries:
            if message.startswith(entry.starts):
                explain(entry)
                return False
        return True


def explain(entry: Quieted) -> None:
    """Log why ``entry`` was silenced, once per process."""
    if entry.starts not in _explained:
        _explained.add(entry.starts)
        log.debug("silenced %r: %s", entry.starts, entry.why)


def install() -> None:
    """Attach the filters (idempotent). Warnings filters go first in the list, so they survive later library defaults."""
    global _installed
    by_logger: dict[str, list[Quieted]] = {}
    for entry in QUIETED:
        if entry.category is not None:
            warnings.filterwarnings("ignore", message=re.escape(entry.starts), category=entry.category)
        if entry.logger is not None:
            by_logger.setdefault(entry.logger, []).append(entry)
    if _installed:
        return
    for name, entries in by_logger.items():
        logging.getLogger(name).addFilter(_Silence(entries))
    _installed = True
