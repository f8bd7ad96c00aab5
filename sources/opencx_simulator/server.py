"""The HTTP front of the simulator: routing, auth, rate limit, faults, latency and recording.

Built on the standard library's ThreadingHTTPServer so the simulator runs anywhere the connector
does. Responses are written in a single send (headers and body together) with Nagle disabled,
so keep-alive clients are not stalled by delayed ACKs.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Final, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from .clock import Clock, to_ms
from .config import FULL_ACCESS, INSIGHTS_READ, SimulatorConfig
from .data import CATEGORY_TYPES, generate
from .faults import (
    CLOUDFLARE_TITLES,
    EARLY_FAULTS,
    Fault,
    FaultKind,
    FaultQueue,
    RandomFaults,
    cloudflare_page,
    error_body,
)
from .store import InsightStore
from .validation import Query, ValidationError, parse_body

JSON_TYPE: Final = "application/json; charset=utf-8"
HTML_TYPE: Final = "text/html; charset=UTF-8"
MAX_BODY: Final = 10 * 1024 * 1024
WINDOW_S: Final = 60.0

RequestHook = Callable[[int, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received, with the status answered (0 when the connection was dropped)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int
    at: float


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send back; `drop` closes the connection without sending anything."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False


@dataclass(frozen=True, slots=True)
class Incoming:
    """A parsed request, independent of the socket it came from."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


def _json_reply(status: int, payload: object) -> Reply:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Reply(status, text.encode())


def _error(status: int, message: str | list[str] | None = None) -> Reply:
    return Reply(status, error_body(status, message))


def _reason(status: int) -> str:
    if status in CLOUDFLARE_TITLES:
        return CLOUDFLARE_TITLES[status].title()
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _recorded_body(raw: bytes) -> Any:
    """Keep the body as the test would want to assert on it: parsed JSON, else text."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class _Handler(BaseHTTPRequestHandler):
    """Socket-level glue: read one request, ask the Simulator for a Reply, write it."""

    protocol_version = "HTTP/1.1"
    server_version = "opencx-simulator/1"
    disable_nagle_algorithm = True
    timeout = 300

    def do_GET(self) -> None:
        """Serve GET through the common path."""
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: thousands of benchmark requests must not flood the test output."""

    def _serve(self) -> None:
        sim = cast("_Server", self.server).sim
        target = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        body, early = self._read_body()
        req = Incoming(self.command, target.path, dict(parse_qsl(target.query)), headers, body)
        reply = sim.handle(req) if early is None else sim.refuse(req, early)
        self._send(reply)

    def _read_body(self) -> tuple[bytes, Reply | None]:
        """Read the body so the connection stays usable; refuse absurd sizes."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            return self._read_chunked(), None
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            self.close_connection = True
            return b"", _error(400, ["invalid Content-Length"])
        if length > MAX_BODY:
            self.close_connection = True
            return b"", _error(413, "request entity too large")
        return (self.rfile.read(length) if length > 0 else b""), None

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            return
        lines = [
            f"HTTP/1.1 {reply.status} {_reason(reply.status)}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
            f"Date: {self.date_time_string()}",
            f"Server: {self.server_version}",
        ]
        lines += [f"{name}: {value}" for name, value in reply.headers]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + reply.body)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its Simulator and can cut open keep-alive connections."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host, which can stall."""
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection so stop() can close it."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget a connection once its handler is done."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, _request: Any, _client_address: Any) -> None:
        """Ignore clients that vanish mid-request; report anything else."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            traceback.print_exc()

    def close_connections(self) -> None:
        """Shut idle keep-alive sockets so their handler threads end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Simulator:
    """The OpenCX insights API on 127.0.0.1, with data, faults and knobs under test control."""

    def __init__(
        self, config: SimulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config if config is not None else SimulatorConfig()
        start = self.config.start_time()
        self.clock = Clock(start)
        self.store = InsightStore(generate(self.config, to_ms(start)), self.config, self.clock)
        self.faults = FaultQueue()
        self.on_request: RequestHook | None = None
        self._random_faults = RandomFaults(self.config.fault_seed)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._window: deque[float] = deque()
        self._post_count = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Simulator:
        """Bind (ephemeral port by default) and serve from a daemon thread."""
        if self._server is not None:
            return self
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="opencx-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        """Start on entering the block."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on leaving the block, whatever happened inside."""
        self.stop()

    @property
    def base_url(self) -> str:
        """Give the root URL to point a client at; only valid while started."""
        if self._server is None:
            raise RuntimeError("simulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Return a snapshot of every request received so far, in completion order."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget recorded requests (the on_request index keeps counting)."""
        with self._lock:
            self._requests.clear()

    @property
    def errors(self) -> list[BaseException]:
        """Return exceptions raised while handling requests (they were answered with 500)."""
        with self._lock:
            return list(self._errors)

    # ------------------------------------------------------------------ request pipeline

    def handle(self, req: Incoming) -> Reply:
        """Answer one request: faults first (even before auth), then the normal pipeline."""
        over_limit, post_index = self._arrive(req)
        cfg = self.config
        fault = self.faults.pop()
        drawn = self._random_faults.draw(cfg.drop_rate, cfg.fault_rate)
        fault = fault or drawn
        if fault is not None and fault.kind in EARLY_FAULTS:
            reply = self._fault_reply(fault)
        else:
            if fault is not None and fault.kind is FaultKind.SLOW:
                time.sleep(fault.seconds)
            reply = self._normal(req, over_limit, post_index, fault)
        return self._finish(req, reply)

    def refuse(self, req: Incoming, reply: Reply) -> Reply:
        """Answer a request the socket layer already rejected (bad length, too large)."""
        return self._finish(req, reply)

    def _finish(self, req: Incoming, reply: Reply) -> Reply:
        """Record before answering, so a client that got a reply always finds it recorded."""
        record = RecordedRequest(
            method=req.method,
            path=req.path,
            query=req.query,
            headers=req.headers,
            body=_recorded_body(req.body),
            status=0 if reply.drop else reply.status,
            at=req.at,
        )
        with self._lock:
            self._requests.append(record)
        latency = self.config.latency_s
        if latency > 0:
            time.sleep(latency)
        return reply

    def _arrive(self, req: Incoming) -> tuple[bool, int]:
        """Count the request in the sliding window and number it among POST /insights calls."""
        limit = self.config.rate_limit_per_minute
        with self._lock:
            self._window.append(req.at)
            while self._window[0] <= req.at - WINDOW_S:
                self._window.popleft()
            over = limit is not None and len(self._window) > limit
            index = -1
            if req.method == "POST" and req.path.rstrip("/") == "/insights":
                index = self._post_count
                self._post_count += 1
            return over, index

    def _too_many(self) -> Reply:
        headers: tuple[tuple[str, str], ...] = ()
        if self.config.retry_after is not None:
            headers = (("Retry-After", str(math.ceil(self.config.retry_after))),)
        body = error_body(429, "ThrottlerException: Too Many Requests")
        return Reply(429, body, headers=headers)

    def _fault_reply(self, fault: Fault) -> Reply:
        if fault.kind is FaultKind.DROP:
            return Reply(0, drop=True)
        if fault.kind is FaultKind.RATE_LIMITED:
            return self._too_many()
        status = fault.status
        if status in CLOUDFLARE_TITLES:
            ray = uuid.uuid4().hex[:16]
            headers = (("Server", "cloudflare"), ("CF-RAY", f"{ray}-FRA"))
            return Reply(status, cloudflare_page(status, ray), HTML_TYPE, headers)
        return _error(status)

    def _normal(
        self, req: Incoming, over_limit: bool, post_index: int, fault: Fault | None
    ) -> Reply:
        if over_limit:
            return self._too_many()
        route = _route(req.method, req.path)
        if route is None:
            return _error(404, f"Cannot {req.method} {req.path}")
        denied = self._authorise(req.headers.get("authorization", ""))
        if denied is not None:
            return denied
        kind = None if fault is None else fault.kind
        try:
            reply = self._endpoint(route, req, post_index, kind)
        except Exception as error:
            with self._lock:
                self._errors.append(error)
            return _error(500, f"simulator error: {error!r}")
        if kind is FaultKind.TRUNCATED and reply.status == HTTPStatus.OK:
            return Reply(reply.status, reply.body[: len(reply.body) // 2], reply.content_type)
        return reply

    def _authorise(self, header: str) -> Reply | None:
        scheme, _, key = header.strip().partition(" ")
        scopes = self.config.api_keys.get(key.strip()) if scheme.lower() == "bearer" else None
        if scopes is None:
            return _error(401, "Unauthorized")
        if FULL_ACCESS not in scopes and INSIGHTS_READ not in scopes:
            return _error(403, "Forbidden resource")
        return None

    def _endpoint(
        self, route: tuple[str, str], req: Incoming, post_index: int, kind: FaultKind | None
    ) -> Reply:
        name, arg = route
        if name == "list":
            return self._list(req.body, post_index, kind)
        if name == "categories":
            return self._categories(req.query)
        blank = kind is FaultKind.NULL_OBJECTS
        text = self.store.insight_json(arg, extras=self.config.extra_fields, blank_objects=blank)
        if text is None:
            return _error(404, "Insight not found")
        return Reply(200, text.encode())

    def _list(self, raw: bytes, post_index: int, kind: FaultKind | None) -> Reply:
        """POST /insights: validate, call the test hook, then serve the page."""
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except ValueError:
            return _error(400, ["body must be valid JSON"])
        try:
            query, page = parse_body(body)
        except ValidationError as invalid:
            return _error(400, invalid.messages)
        hook = self.on_request
        if hook is not None:
            hook(post_index, body)
        return Reply(200, self._page_body(query, page, kind).encode())

    def _page_body(self, query: Query, page: int, kind: FaultKind | None) -> str:
        extras = self.config.extra_fields
        if kind is FaultKind.DUPLICATE_PAGE:
            items, total = self.store.page(query, max(page - 1, 1), extras=extras)
        else:
            blank = kind is FaultKind.NULL_OBJECTS
            items, total = self.store.page(query, page, extras=extras, blank_objects=blank)
        pages = math.ceil(total / self.config.page_size)
        tail = f'"page":{page},"total":{total},"totalPages":{pages}}}'
        if kind is FaultKind.MISSING_DATA:
            return "{" + tail
        if kind is FaultKind.EMPTY_PAGE:
            items = []
        return '{"data":[' + ",".join(items) + "]," + tail

    def _categories(self, query: dict[str, str]) -> Reply:
        kind = query.get("type")
        if kind is not None and kind not in CATEGORY_TYPES:
            options = ", ".join(CATEGORY_TYPES)
            return _error(400, [f"type must be one of the following values: {options}"])
        data = self.store.categories(kind, query.get("search"))
        if self.config.extra_fields:
            for item in data:
                item["color"] = "#" + item["id"][:6]
        return _json_reply(200, {"data": data})


def _route(method: str, path: str) -> tuple[str, str] | None:
    """Match a request to an endpoint; categories is matched before the {id} route."""
    path = path.rstrip("/")
    if path == "/insights":
        return ("list", "") if method == "POST" else None
    if method != "GET" or not path.startswith("/insights/"):
        return None
    rest = path.removeprefix("/insights/")
    if rest == "categories":
        return ("categories", "")
    if "/" in rest:
        return None
    return ("get", unquote(rest))
