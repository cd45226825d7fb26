"""Stored results: run records and ids, the DuckDB schema with every migration, the leaderboard."""
