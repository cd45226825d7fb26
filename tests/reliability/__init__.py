"""Reliability and security tests (issue 11): bad input, kills, faults, load, security. See RELIABILITY.md."""
