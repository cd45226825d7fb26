"""Builders of the non-tldr benchmark data sets (classification, documentation questions, structured).

Each builder reads a real public source available offline on this machine, writes the full set
under ``bench/datasets/out/<name>/`` and, on request, the small attributed sample shipped in
``data/samples/<name>/``. See ``docs/datasets.md``.
"""
