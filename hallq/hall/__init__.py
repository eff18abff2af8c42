"""The hall's pure logic: configuration, schedule, the queue engine and wait estimates.

Nothing in this package does I/O beyond reading a configuration file; the engine is
deterministic given its commands and the times they carry.
"""
