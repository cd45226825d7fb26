"""Optuna sweeps: typed config, storage, trial types, pruners, the worker loop, ingest, search space, status, processes."""
