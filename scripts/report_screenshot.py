"""Make docs/report.png, the README's picture of the report, from the demo data.

    .venv/bin/python scripts/report_screenshot.py

Loads the demo (the bundled simulator, 3,000 insights, as `make demo` does) into a temporary
DuckDB file with a temporary dlt state, so neither `data/` nor `~/.dlt` is touched, writes the
report of it, and has headless Chromium (offline, with the machine's fonts: Debian's
fonts-dejavu-core) draw the whole page, 1000 pixels wide. The data are the demo's of the day it
runs (the demo is anchored to today's midnight UTC). Needs Debian's `chromium` at
/usr/bin/chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.html_report.browser import screenshot  # noqa: E402
from pipelines.html_report.page import write_report  # noqa: E402

OUTPUT = ROOT / "docs" / "report.png"
WIDTH = 1000


def main() -> int:
    """Load the demo, write its report, screenshot it; prints the PNG's path and size."""
    with tempfile.TemporaryDirectory(prefix="opencx-report-shot-") as tmp:
        work = Path(tmp)
        db = work / "demo.duckdb"
        env = {**os.environ, "DLT_DATA_DIR": str(work / "dlt"), "RUNTIME__LOG_LEVEL": "WARNING"}
        subprocess.run(
            [sys.executable, str(ROOT / "pipelines" / "insights.py"), "--demo", "--quiet",
             "--duckdb-path", str(db)],
            env=env, check=True,
        )  # fmt: skip
        page = write_report(db, work / "report.html")
        screenshot(page, OUTPUT, width=WIDTH)  # the whole page
    print(f"{OUTPUT.relative_to(ROOT)}: {OUTPUT.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
