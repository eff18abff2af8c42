"""Printer, voice, LED boards, buttons and evaluators: real backends and simulators (issue 3)."""
