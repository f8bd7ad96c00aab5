"""Entry point users schedule: ``python pipelines/insights.py [--demo] [--full-refresh] ...``.

Parses the command line into a run request, launches it, exits with its status. Imports stay
light until the arguments are parsed, so ``--help`` is instant and works without credentials.
Every failure a user can cause ends in one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
if __name__ == "__main__":  # the command only, before its first import: see its module
    from pipelines.command.lean_gc import pause_collections_for_imports

    pause_collections_for_imports()
# dlt reads `.dlt/` from the project, not from wherever cron happens to start us.
os.environ.setdefault("DLT_PROJECT_DIR", str(PROJECT_ROOT))
# dlt's anonymous telemetry would try to reach the internet on every run; opt in explicitly.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from pipelines.command.cli import parse_request  # noqa: E402
from pipelines.command.launch import launch  # noqa: E402


def main(argv: list[str] | None = None, *, lean: bool = False) -> int:
    """Parse, run, and turn any failure into one line and an exit status.

    `lean` (the command, not a library caller): keep pandas and numpy out of the run when the
    destination never uses them.
    """
    return launch(parse_request(argv), lean=lean)


if __name__ == "__main__":
    from pipelines.command.lean_gc import skip_the_final_collection

    status = main(lean=True)
    skip_the_final_collection()
    sys.exit(status)
