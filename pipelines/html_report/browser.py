"""A PNG of the report as Chromium draws it offline (for the README and test artifacts)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# a browser that reaches nothing: no profile, no background traffic, every host unresolvable
# and every connection sent to a closed port, so a page that needed the network would show it
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
)  # fmt: skip


def chromium_command(page: Path, profile: Path, *flags: str) -> list[str]:
    """Headless Chromium on a local page, offline, with an empty profile of its own."""
    return [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, page.as_uri()]


def screenshot(page: Path, png: Path, width: int = 1100, height: int = 3800) -> Path:
    """A PNG of the page as Chromium draws it offline (for the README and test artifacts)."""
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="opencx-chromium-") as profile:
        command = chromium_command(
            page, Path(profile), f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}", "--virtual-time-budget=5000",
        )  # fmt: skip
        subprocess.run(command, capture_output=True, timeout=120, check=True)
    return png
