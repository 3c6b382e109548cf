"""Bidirectional virtual <-> host reconciliation (issue 5)."""
