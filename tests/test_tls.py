"""The client's TLS context: httpx's default verification, built once, in the background for
the command, and an unusable CA bundle still fails where httpx would have failed."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from sources.opencx import tls
from sources.opencx.client import ClientSettings, OpenCXClient

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def unbuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that has not built the shared context yet."""
    monkeypatch.setattr(tls, "_context", None)


def test_the_shared_context_verifies_certificates_and_host_names(unbuilt: None) -> None:
    context = tls.shared_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0, "certifi's CA bundle is loaded"


def test_a_background_build_is_the_context_every_client_then_uses(unbuilt: None) -> None:
    tls.build_in_background()
    first = tls.shared_context()
    assert tls.shared_context() is first
    settings = ClientSettings(api_key="ocx_test_key", base_url="https://api.example.invalid")
    with OpenCXClient(settings) as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._ssl_context is first


def test_an_unreadable_ca_bundle_fails_when_the_client_is_built(
    unbuilt: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    tls.build_in_background()
    settings = ClientSettings(api_key="ocx_test_key", base_url="https://api.example.invalid")
    with pytest.raises(FileNotFoundError):
        OpenCXClient(settings)


def test_the_process_waits_for_a_background_build_before_it_exits(tmp_path: Path) -> None:
    done = tmp_path / "built"
    code = (
        "import threading\n"
        "from sources.opencx import tls\n"
        "build = tls._build\n"
        "def slow(future):  # still building when the main thread has finished\n"
        "    threading.main_thread().join()\n"
        "    build(future)\n"
        f"    open({str(done)!r}, 'w').close()\n"
        "tls._build = slow\n"
        "tls.build_in_background()\n"
        "raise SystemExit(2)  # a run that fails at once, before its first request\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (2, "")
    assert done.exists(), "the interpreter finalised while the build was still running"
