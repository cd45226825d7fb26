"""One exception root for the whole product, with a subclass per layer.

Every error a user can cause carries a message that says what is wrong and what to do;
CLI commands and app pages catch ``AdvisorError`` and show the message, never a traceback.
"""

from __future__ import annotations


class AdvisorError(Exception):
    """Root of every error the product raises on purpose (bad input, missing model, ...)."""

    exit_code = 2


class ConfigError(AdvisorError, ValueError):
    """A typed config (or plan, or answers file) failed validation; the message lists every problem."""


class WorkspaceError(AdvisorError):
    """A workspace path or name is unsafe, or an artifact in it is missing or unreadable."""


class DataError(AdvisorError):
    """A data set or corpus cannot be loaded or is invalid; problems carry line numbers."""


class ModelLoadError(AdvisorError):
    """A base model, adapter or embedder cannot be found or loaded; says what to install or pass."""


class RagError(AdvisorError):
    """Retrieval engine problems: empty corpus, corrupt or mismatched index."""


class TrainingError(AdvisorError):
    """The training engine cannot run the requested configuration."""


class OutOfMemoryError(TrainingError):
    """The device ran out of memory; ``config`` holds the configuration that did not fit."""

    def __init__(self, message: str, config: object | None = None) -> None:
        super().__init__(message)
        self.config = config


class EvaluationError(AdvisorError):
    """The evaluation contract was broken (e.g. a system evaluated on data it trained on)."""


class LeaderboardError(AdvisorError):
    """The leaderboard or registry refused an operation (unknown run, missing artefacts, ...)."""


class SweepError(AdvisorError):
    """A sweep cannot be started, joined or resumed."""


class GateError(AdvisorError):
    """The promotion gate refused a run; the message lists the failed conditions."""


class ExportError(AdvisorError):
    """An export of an accepted model cannot be made (not accepted, unsupported format, converter missing or failing)."""
