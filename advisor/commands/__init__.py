"""CLI commands, one module each (discovered by ``advisor.cli``)."""
