"""The report as Chromium draws it offline, from Debian's `chromium` package.

A PNG of the whole page (for the README and test artifacts), and the page's DOM after a script
of the caller's ran in it (for the tests, and to measure the page for the PNG).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# a browser that reaches nothing: no profile, no background traffic, every host unresolvable
# and every connection sent to a closed port, so a page that needed the network would show it
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
)  # fmt: skip
WIDTH = 1100
# the report has no script: the page's height is read by one added to a copy of it
_MEASURE_HEIGHT = (
    "<script>document.body.dataset.pageHeight = "
    "Math.ceil(document.documentElement.scrollHeight);</script>"
)
_PAGE_HEIGHT = re.compile(r'data-page-height="(\d+)"')


def chromium_command(page: Path, profile: Path, *flags: str) -> list[str]:
    """Headless Chromium on a local page, offline, with an empty profile of its own."""
    return [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, page.as_uri()]


def dom_after_script(page: Path, script: str, width: int = WIDTH) -> str:
    """The DOM of a copy of `page` with `script` added at the end of its body, laid out.

    `script` is a `<script>` element; it runs once Chromium laid the page out `width` pixels
    wide, offline. The report itself has no script: the copy is the caller's instrument.
    """
    with tempfile.TemporaryDirectory(prefix="opencx-chromium-") as tmp:
        copy = Path(tmp) / page.name
        text = page.read_text(encoding="utf-8")
        copy.write_text(text.replace("</body>", f"{script}</body>"), encoding="utf-8")
        command = chromium_command(
            copy, Path(tmp) / "profile", f"--window-size={width},800",
            "--virtual-time-budget=10000", "--dump-dom",
        )  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def page_height(page: Path, width: int = WIDTH) -> int:
    """The height of the whole page laid out `width` pixels wide."""
    found = _PAGE_HEIGHT.search(dom_after_script(page, _MEASURE_HEIGHT, width))
    if not found:
        raise RuntimeError(f"Chromium did not lay out {page}")
    return int(found.group(1))


def screenshot(page: Path, png: Path, width: int = WIDTH, height: int | None = None) -> Path:
    """A PNG of the page as Chromium draws it offline; the whole page unless `height` is given."""
    png.parent.mkdir(parents=True, exist_ok=True)
    height = height or page_height(page, width)
    with tempfile.TemporaryDirectory(prefix="opencx-chromium-") as profile:
        command = chromium_command(
            page, Path(profile), f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}", "--virtual-time-budget=5000",
        )  # fmt: skip
        subprocess.run(command, capture_output=True, timeout=120, check=True)
    return png
