"""What the operator sees: progress, the summary, logs, error lines and the JSON report.

Knows what a run counted and how it ended, and nothing of the command or the load above it.
"""
