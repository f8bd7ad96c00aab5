"""Where a load writes: the DuckDB file, files and Delta tables, dlt's state table, checks.

Knows the destination and nothing of the command or the load above it.
"""
