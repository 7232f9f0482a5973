"""Benchmarks: what a turn costs as a session's history grows, for agent-sessions and the
layouts people use today, measured in one run on one machine. `python -m bench --help`."""
