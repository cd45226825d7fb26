"""Experiment layer: data sets, splits, metrics, statistics, evaluation, sweeps, leaderboard, registry."""
