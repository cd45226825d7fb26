"""Governance: responsible-AI checks, human review, Bradley-Terry, the promotion gate, the registry."""
