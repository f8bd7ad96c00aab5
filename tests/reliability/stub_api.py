"""A tiny real HTTP server on 127.0.0.1 that answers ``POST /insights`` with crafted bodies.

For what the simulator cannot produce because it never lies: a `totalPages` that is wrong or
not a whole number, an item without an id, a 200 that is an HTML page, a field the API adds
that collides with ours. Standard library only, thread-safe (the connector fetches pages
concurrently), quiet.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer."""

    status: int = 200
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


def as_json(payload: Any, status: int = 200) -> Answer:
    return Answer(status, json.dumps(payload, allow_nan=True).encode())


# an answer for the requested page number (1-based) and the full request body
Script = Callable[[int, dict[str, Any]], Answer]


def paged(
    items: list[dict[str, Any]],
    page_size: int,
    envelope: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None,
) -> Script:
    """Serve `items` in pages the way the API does; `envelope` may rewrite each page's JSON."""

    def answer(page: int, body: dict[str, Any]) -> Answer:
        chunk = items[(page - 1) * page_size : page * page_size]
        payload: dict[str, Any] = {
            "data": chunk,
            "page": page,
            "total": len(items),
            "totalPages": math.ceil(len(items) / page_size),
        }
        return as_json(envelope(page, payload) if envelope else payload)

    return answer


@dataclass
class StubApi:
    """Serves `script`; records every request body it was sent."""

    script: Script
    bodies: list[dict[str, Any]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> StubApi:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.bodies.append(body)
                self._send(stub.script(int(body.get("page", 1)), body))

            def _send(self, answer: Answer) -> None:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
