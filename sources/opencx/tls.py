"""The client's TLS context, built once per process and, for the command, in the background.

httpx builds a fresh `ssl.SSLContext` for every client and loads certifi's CA bundle into it
(25-35 ms, parsing about 150 certificates), on the path between the start of a run and its first
request. OpenSSL parses the bundle without holding the GIL, so the command starts the build on a
thread (`build_in_background`) while dlt resolves its configuration and opens the destination,
and the client takes the finished context (`shared_context`). The context is httpx's own
default (`httpx.create_ssl_context()`: certifi, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set),
so verification is exactly what a plain httpx client does; one context serves every client of
the process, which `ssl.SSLContext` allows from any thread.
"""

from __future__ import annotations

import ssl
import threading
from concurrent.futures import Future

import httpx

_lock = threading.Lock()
_context: Future[ssl.SSLContext] | None = None


def build_in_background() -> None:
    """Start building the shared context on another thread (no-op once started)."""
    future = _claim()
    if future is not None:
        # not a daemon: the interpreter waits for it at exit instead of finalising under a
        # thread inside OpenSSL (a run that fails before its first request exits in ~0.1 s)
        threading.Thread(target=_build, args=(future,), name="opencx-tls", daemon=False).start()


def shared_context() -> ssl.SSLContext:
    """The process's TLS context: the background build's result, else built now.

    A build that failed (an unreadable `SSL_CERT_FILE`) raises here, where httpx would have.
    """
    future = _claim()
    if future is not None:
        _build(future)
    assert _context is not None  # set by _claim
    return _context.result()


def _claim() -> Future[ssl.SSLContext] | None:
    """A new future to fill when nobody has started the build yet, else None."""
    global _context  # noqa: PLW0603 - one context per process, like the CA bundle it holds
    with _lock:
        if _context is not None:
            return None
        _context = Future()
        return _context


def _build(future: Future[ssl.SSLContext]) -> None:
    """Fill `future` with httpx's default context, or with the error building it raised."""
    try:
        future.set_result(httpx.create_ssl_context())
    except Exception as exc:  # handed to whoever asks for the context
        future.set_exception(exc)
