"""A scripted HTTP server on 127.0.0.1 for the fetch tests: it answers from a routing function and logs requests."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """What the server sends: a JSON body (or raw bytes) with a status and headers, or nothing at all.

    Args:
        body: JSON-serialisable content, or `bytes` sent as they are.
        status: the HTTP status.
        headers: extra headers.
        drop: close the connection without answering.
        delay: seconds to wait before answering (to trigger client timeouts).
    """

    body: object = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0


@dataclass
class LoggedRequest:
    path: str
    headers: dict[str, str]
    status: int | None  # None: the connection was dropped


class QuietServer(ThreadingHTTPServer):
    """Does not print the broken pipes of clients that gave up waiting (the timeout tests cause them)."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


Route = Callable[[str, int], Reply]  # (path with query, how many times this path was asked before) -> Reply


class LocalApi:
    """A `ThreadingHTTPServer` on 127.0.0.1 (a free port) in a thread; use it as a context manager.

    Args:
        route: gives the reply for a path and the number of earlier requests for that same path.
    """

    def __init__(self, route: Route):
        self.route = route
        self.log: list[LoggedRequest] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with api._lock:
                    nth = api._counts.get(self.path, 0)
                    api._counts[self.path] = nth + 1
                reply = api.route(self.path, nth)
                if reply.delay:
                    time.sleep(reply.delay)
                with api._lock:
                    api.log.append(LoggedRequest(self.path, dict(self.headers), None if reply.drop else reply.status))
                if reply.drop:
                    self.close_connection = True
                    return
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # keep the test output quiet
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LocalApi:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def paths(self) -> list[str]:
        with self._lock:
            return [entry.path for entry in self.log]
