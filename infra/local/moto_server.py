"""moto in server mode, in its own process (so the app's Python and moto's Python use two cores),
with the local stack's patches (`motopatch`) and configuration:

- Step Functions executes state machine definitions (`stepfunctions.execute_state_machine`), and
  its interpreter calls the AWS APIs at `localhost:$MOTO_PORT` (this server);
- Lambda without Docker (`lambda.use_docker=False`), invocations forwarded to the local stack's
  Lambda endpoint (`--lambda-url`), which runs the app's handlers.

    python -m infra.local.moto_server --port 0 --port-file PATH [--lambda-url URL]

The local stack starts it as a child process; it stops on SIGTERM / SIGINT or when its parent
dies.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)
STATS_PATH = "/_parkcharge/stats"
SWITCH_INTERVAL = 0.0005
FREEZE_EVERY = 5.0


class GcPauses:
    """The garbage collector's pauses in this process (reported with the request counters)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.longest = 0.0
        self.full = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        pause = time.perf_counter() - self.started
        self.longest = max(self.longest, pause)
        self.full += info.get("generation") == 2

    def stats(self) -> dict[str, Any]:
        return {"gc_longest_pause_ms": round(self.longest * 1000, 1), "gc_full_collections": self.full}


GC_PAUSES = GcPauses()


class Counting:
    """WSGI middleware: counts requests and emulator errors (5xx answers), served at STATS_PATH
    (`make bench` reports them)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0
        self.errors = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == STATS_PATH:
            from infra.local import motopatch

            if environ.get("QUERY_STRING") == "reset=gc":  # the pauses from now on
                GC_PAUSES.longest, GC_PAUSES.full = 0.0, 0

            stats = {
                "requests": self.requests,
                "errors": self.errors,
                "fast_updates": motopatch.FAST_UPDATES[0],
                **motopatch.WORK,
                **GC_PAUSES.stats(),
            }
            body = json.dumps(stats).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            start_response("200 OK", headers)
            return [body]

        def counted(status: str, headers: Any, exc_info: Any = None) -> Any:
            failed = int(status.split(" ", 1)[0]) >= 500
            with self._lock:
                self.requests += 1
                self.errors += failed
            return start_response(status, headers, exc_info)

        return self.app(environ, counted)


def _freeze_long_lived(every: float = FREEZE_EVERY) -> None:
    """moto keeps every item as Python objects: a full garbage collection walks all of them
    (a pause of hundreds of ms with 10,000 visits stored, every few seconds under load). What
    has lived for a few seconds is data: it is moved out of the collector's sight (`gc.freeze`),
    so a collection walks only what is new. moto's data holds no reference cycles to reclaim."""
    while True:
        time.sleep(every)
        gc.freeze()


def keep_alive_handler(base: type) -> type:
    """moto's request handler, answering with keep-alive and one write per response.

    werkzeug's development server closes every connection after its response (and then waits
    10 ms for stray request bytes): each AWS call paid a new TCP connection, a new server thread
    and the client's connection setup. Here a response goes out in one write with its
    Content-Length and the connection stays open, as a real AWS endpoint's does; a request body
    is read to its end so the next request starts in the right place. Chunked request bodies,
    which no client of the local stack sends, close the connection after the response."""
    from werkzeug.wsgi import LimitedStream

    class KeepAliveHandler(base):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # a response is one write; nothing to hold back

        def run_wsgi(self) -> None:
            if self.headers.get("Expect", "").lower().strip() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            environ = self.make_environ()
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            stream = None
            if not chunked:
                stream = LimitedStream(self.rfile, int(self.headers.get("Content-Length") or 0))
                environ["wsgi.input"] = stream
                environ["wsgi.input_terminated"] = True
            self.environ = environ
            started: list[Any] = []

            def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
                started[:] = [status, headers]
                return body.append

            body: list[bytes] = []
            try:
                result = self.server.app(environ, start_response)
                try:
                    body.extend(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
                status, headers = started
            except Exception:
                log.exception("moto failed on %s %s", self.command, self.path)
                status, headers, body = (
                    "500 Internal Server Error",
                    [("Content-Type", "text/plain")],
                    [b"error"],
                )
                self.close_connection = True
            if stream is not None:
                stream.exhaust()
            else:
                self.close_connection = True
            data = b"".join(body)
            code = int(status.split(" ", 1)[0])
            lines = [f"HTTP/1.1 {status}"]
            lines += [
                f"{k}: {v}"
                for k, v in headers
                if k.lower() not in ("content-length", "connection", "transfer-encoding")
            ]
            no_body = self.command == "HEAD" or code in (204, 304) or 100 <= code < 200
            if no_body:
                sent = {k.lower(): v for k, v in headers}
                if "content-length" in sent:
                    lines.append(f"Content-Length: {sent['content-length']}")
                data = b""
            else:
                lines.append(f"Content-Length: {len(data)}")
            if self.close_connection:
                lines.append("Connection: close")
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
            self.wfile.flush()

    return KeepAliveHandler


def configure(lambda_url: str | None, port: int) -> None:
    os.environ["MOTO_PORT"] = str(port)
    if lambda_url:
        os.environ["PARKCHARGE_LOCAL_LAMBDA_URL"] = lambda_url
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.local.moto_server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--port-file", help="write the port here once listening (for --port 0)")
    p.add_argument("--lambda-url", help="the local stack's Lambda invoke endpoint")
    args = p.parse_args(argv)

    # Every request releases the GIL on each socket read and write; with many request threads
    # the default 5 ms switch interval makes each of those a wait of up to 5 ms behind whichever
    # thread holds it (the convoy effect), which dominated moto's latency under load.
    sys.setswitchinterval(SWITCH_INTERVAL)
    from werkzeug.serving import make_server

    from infra.local import motopatch

    motopatch.apply()
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    # One line per request on a busy stack costs more than it tells; errors are counted instead.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    NoDelayHandler = keep_alive_handler(MotoRequestHandler)

    server = make_server(
        args.host,
        args.port,
        Counting(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=NoDelayHandler,
    )
    port = int(server.server_address[1])
    configure(args.lambda_url, port)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    gc.callbacks.append(GC_PAUSES)
    threading.Thread(target=_freeze_long_lived, name="gc-freeze", daemon=True).start()
    if args.port_file:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(str(port))
        tmp.replace(args.port_file)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


class MotoProcess:
    """The parent's side: start the server as a child process and wait until it listens."""

    kind = "moto"

    def __init__(self, host: str, port: int, state_dir: Path, lambda_url: str | None) -> None:
        self.host = host
        self.port = port
        self.state_dir = state_dir
        self.lambda_url = lambda_url
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 30.0) -> None:
        from infra.local.broker import _die_with_parent, wait_for_port

        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_file = self.state_dir / "moto.log"
        command = [sys.executable, "-m", "infra.local.moto_server", "--host", self.host]
        command += ["--port", str(self.port)]
        if self.lambda_url:
            command += ["--lambda-url", self.lambda_url]
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with log_file.open("ab") as out:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd=root,
                env=env,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"moto exited with {self._proc.returncode}; see {log_file}")
                try:
                    wait_for_port(self.host, self.port, 0.2)
                    return
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 1.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
