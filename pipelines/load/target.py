"""Where one pipeline of a run loads: what the command resolved and checked for the load.

The command (`pipelines.command.settings`) builds it from the run request and the
configuration; the load takes it as it is and resolves nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """One pipeline's destination, dataset and dlt pipeline name (its state, cursor and lock).

    `destination` is a dlt destination name; `duckdb_path` is the file, absolute, when it is
    `duckdb` (None otherwise). `org` is the organisation with `--orgs`, else None.
    """

    pipeline_name: str
    destination: str
    dataset: str
    duckdb_path: Path | None = None
    org: str | None = None
