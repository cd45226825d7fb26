"""The evaluation contract: systems, extraction, metrics, statistics, per-item runs, comparisons, prices, provenance."""
