"""The local stack's Lambda endpoint: the `Invoke` API (`POST /2015-03-31/functions/<name>/invocations`)
for the app's functions, run in-process by `runtime.invoke`.

moto's Lambda (without Docker, see `motopatch`) forwards invocations here, so a Step Functions
Lambda task reaches the same handler the AWS function would run. A handler that raises answers
200 with `X-Amz-Function-Error: Unhandled` and `{"errorMessage", "errorType"}`, as Lambda does.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

from infra.local import runtime

log = logging.getLogger(__name__)

PATH_PREFIX = "/2015-03-31/functions/"


class Server(ThreadingHTTPServer):
    """A thread per connection, and a listen backlog for bursts of concurrent clients (not 5)."""

    daemon_threads = True
    request_queue_size = 256


class LambdaEndpoint:
    def __init__(self, app_module: ModuleType, host: str, port: int, region: str) -> None:
        self.app_module = app_module
        self.region = region
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *_args: Any) -> None:
                return

            def do_POST(self) -> None:
                status, headers, body = endpoint.handle(self.path, self._body())
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

        self._server = Server((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith(PATH_PREFIX) or not path.endswith("/invocations"):
            return 404, {}, b'{"message": "not found"}'
        name = urllib.parse.unquote(path[len(PATH_PREFIX) : -len("/invocations")])
        name = name.rsplit(":", 1)[-1] if name.startswith("arn:") else name
        short = name.removeprefix(runtime.FUNCTION_PREFIX)
        try:
            fn = runtime.handler(self.app_module, short)
        except LookupError as exc:
            body_out = {"Type": "User", "message": str(exc)}
            return 404, {"X-Amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(body_out).encode()
        try:
            event = json.loads(body) if body else {}
            result = runtime.invoke(fn, short, event, self.region)
        except Exception as exc:
            log.exception("lambda %s raised", short)
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps(error).encode()
        log.info("lambda %s invoked", short)
        return 200, {}, json.dumps(result, default=str).encode()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)
