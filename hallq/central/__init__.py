"""The central server that a city's halls report to (issue 6)."""
