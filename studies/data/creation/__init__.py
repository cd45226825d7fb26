"""Pairs made from a team's documents: candidates (extractive or model-written), filters, human review.

The flow (docs/data.md): ``generate`` -> ``filter`` (each filter counted) -> review (app queue or a
CSV round trip) -> ``build`` a versioned data set whose pairs carry their provenance and review state.
"""
