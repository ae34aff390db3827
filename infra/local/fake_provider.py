"""What the local fakes of WeChat Pay and Alipay share: a loopback HTTP server on a thread that
records every request it saw (tests assert that a refused notification made no outbound call),
and the delivery of a notification to the app with the providers' retry habit."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from infra.local.lambda_endpoint import Server

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.2, 0.5, 1.0)  # seconds before the 2nd, 3rd and 4th attempt of one delivery
MAX_DELIVERIES = 5
MAX_REQUEST = 64 * 1024


@dataclass(frozen=True)
class Seen:
    method: str
    path: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


Route = Callable[[str, str, dict[str, str], bytes], Reply]


class FakeServer:
    """Serves `route(method, path, headers, body) -> Reply` on host:port (0: a free port)."""

    def __init__(self, name: str, host: str, port: int, route: Route) -> None:
        self.name = name
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            server_version = f"parkcharge-fake-{name}"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

            def _serve(self) -> None:
                with fake._lock:
                    fake.seen.append(Seen(self.command, self.path))
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_REQUEST:
                    reply = Reply(413, b'{"code":"PARAM_ERROR","message":"body too large"}', {})
                else:
                    body = self.rfile.read(length) if length else b""
                    headers = {k: v for k, v in self.headers.items()}
                    try:
                        reply = route(self.command, self.path, headers, body)
                    except Exception as exc:  # a fake answers, it does not crash
                        log.exception("%s fake failed on %s %s", name, self.command, self.path)
                        reply = Reply(
                            500, f'{{"code":"SYSTEM_ERROR","message":"{type(exc).__name__}"}}'.encode(), {}
                        )
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = _serve
            do_POST = _serve

        self._server = Server((host, port), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"fake-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests_seen(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)


def deliver(url: str, body: bytes, headers: Callable[[], dict[str, str]], deliveries: int) -> list[int]:
    """POST `body` to `url` `deliveries` times (providers notify more than once); each delivery
    is retried with back-off until a 2xx. Headers are made anew per attempt (fresh timestamps).
    Returns the final status of each delivery (0: unreachable)."""
    statuses: list[int] = []
    for _ in range(deliveries):
        status = 0
        for attempt in range(len(RETRY_DELAYS) + 1):
            if attempt:
                time.sleep(RETRY_DELAYS[attempt - 1])
            request = urllib.request.Request(url, data=body, headers=headers(), method="POST")  # noqa: S310 - the app's loopback URL
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback URL
                    status = answer.status
                    answer.read()
            except urllib.error.HTTPError as err:
                status = err.code
                err.read()
            except OSError:
                status = 0
            if HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES:
                break
            log.warning("notification to %s answered %s (attempt %d)", url, status, attempt + 1)
        statuses.append(status)
    return statuses


def reply_json(status: int, data: bytes, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, data, headers or {})
