"""Responsible-AI and safety checks on a run's outputs and on the training data.

:mod:`.catalog` holds the results, the configuration, the registry and the runner; the checks register
from :mod:`.sensitive` (credentials and personal data, in outputs and data), :mod:`.dangerous`
(dangerous commands) and :mod:`.output_quality` (refusals and empty answers, group balance) and :mod:`.forgetting` (general ability lost by fine-tuning), in that order.

Documented flags on the bundled sample (data/sample/pairs.jsonl): ``curl -k`` twice
(verification_disabled: tldr's curl page shows it) and ``40.50.60.5`` (a public address used as a
proxy example on the docker build page).
"""

# Importing the check modules registers their checks, in this order (the order of CHECKS and of every listing).
from studies.governance.checks import sensitive, dangerous, output_quality, forgetting  # noqa: F401, I001
from studies.governance.checks.catalog import (
    CHECKS,
    CheckInputs,
    CheckResult,
    ChecksConfig,
    CheckSpec,
    Finding,
    load_training_data,
    register_check,
    run_checks,
    run_checks_for_run,
)
from studies.governance.checks.dangerous import DANGER_RULES, find_dangerous
from studies.governance.checks.output_quality import is_refusal
from studies.governance.checks.sensitive import PUBLIC_RESOLVERS, find_personal_data, find_secrets, is_placeholder

__all__ = [
    "CHECKS", "DANGER_RULES", "PUBLIC_RESOLVERS", "CheckInputs", "CheckResult", "CheckSpec", "ChecksConfig", "Finding",
    "find_dangerous", "find_personal_data", "find_secrets", "is_placeholder", "is_refusal", "load_training_data",
    "register_check", "run_checks", "run_checks_for_run",
]  # fmt: skip
