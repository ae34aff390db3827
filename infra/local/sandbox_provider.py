"""The sandbox payment provider: a stand-in for WeChat Pay / Alipay on 127.0.0.1.

    POST /v1/pay {"out_trade_no": "p-…", "amount_fen": 900, "deliveries": 1}

"Pays" the order at once: it makes a provider transaction id, signs the notification
`{"out_trade_no", "transaction_id", "amount_fen", "trade_state": "SUCCESS", "success_time"}` with
the provider's private key (`chalicelib.payments.sandbox.sign`) and POSTs it to the API's callback
route, retrying with back-off until a 2xx, `deliveries` times (real providers notify more than
once). It answers `{"transaction_id", "notified": [final status per delivery], "response": …}`.

    POST /v1/refunds {"out_refund_no": "rf-…", "out_trade_no": "p-…", "amount_fen": 300, "total_fen": 900}

A refund, one per `out_refund_no` (the same number again answers the same refund; the same number
with another amount or order is a 409), never more in total for an order than the provider took
for it (400). The answer `{"refund_id", "out_refund_no", "out_trade_no", "amount_fen", "status":
"SUCCESS", "success_time"}` is signed like a notification.

    POST /v1/control/refund-failures {"count": 2}

The next `count` refund calls answer 503 (a provider that is down), for tests; 0 clears it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from chalicelib.payments import sandbox
from infra.local.lambda_endpoint import Server

log = logging.getLogger(__name__)

CALLBACK_PATH = "/v1/callbacks/payments/sandbox"
RETRY_DELAYS = (0.2, 0.5, 1.0)  # seconds before the 2nd, 3rd and 4th attempt
MAX_DELIVERIES = 5


class SandboxProvider:
    def __init__(self, host: str, port: int, api_base_url: str, private_key_file: Path) -> None:
        self.host = host
        self.port = port
        self.callback_url = api_base_url.rstrip("/") + CALLBACK_PATH
        self.private_key_file = private_key_file
        self._lock = threading.Lock()
        self.paid: dict[str, int] = {}  # out_trade_no -> amount taken
        self.refunds: dict[str, dict[str, Any]] = {}  # out_refund_no -> the refund
        self.fail_next_refunds = 0
        self.refund_calls = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "parkcharge-sandbox-pay"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/v1/health":
                    self._reply(200, {"status": "ok"})
                else:
                    self._reply(404, {"code": "not_found", "message": self.path})

            def _signed(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
                headers = sandbox.sign(provider.private_key_file.read_bytes(), data)
                raw = data.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _json(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def do_POST(self) -> None:
                if self.path == "/v1/refunds":
                    try:
                        status, answer = provider.refund(self._json())
                    except (ValueError, KeyError, TypeError) as exc:
                        self._reply(400, {"code": "bad_request", "message": str(exc)})
                        return
                    if status == 200:
                        self._signed(status, answer)
                    else:
                        self._reply(status, answer)
                    return
                if self.path == "/v1/control/refund-failures":
                    try:
                        count = self._json()["count"]
                        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                            raise ValueError("count must be a whole number, 0 or more")
                    except (ValueError, KeyError, TypeError) as exc:
                        self._reply(400, {"code": "bad_request", "message": str(exc)})
                        return
                    with provider._lock:
                        provider.fail_next_refunds = count
                    self._reply(200, {"fail_next_refunds": count})
                    return
                if self.path != "/v1/pay":
                    self._reply(404, {"code": "not_found", "message": self.path})
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    request = json.loads(self.rfile.read(length) or b"{}")
                    out_trade_no = request["out_trade_no"]
                    amount = request["amount_fen"]
                    deliveries = request.get("deliveries", 1)
                    if not isinstance(out_trade_no, str) or not out_trade_no:
                        raise ValueError("out_trade_no must be a non-empty string")
                    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                        raise ValueError("amount_fen must be a positive integer")
                    if not isinstance(deliveries, int) or not 1 <= deliveries <= MAX_DELIVERIES:
                        raise ValueError(f"deliveries must be 1..{MAX_DELIVERIES}")
                except (ValueError, KeyError, TypeError) as exc:
                    self._reply(400, {"code": "bad_request", "message": str(exc)})
                    return
                self._reply(200, provider.pay(out_trade_no, amount, deliveries))

        self._server = Server((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-pay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def pay(self, out_trade_no: str, amount_fen: int, deliveries: int = 1) -> dict[str, Any]:
        transaction_id = "sbx-" + uuid.uuid4().hex
        body = json.dumps(
            {
                "out_trade_no": out_trade_no,
                "transaction_id": transaction_id,
                "amount_fen": amount_fen,
                "trade_state": "SUCCESS",
                "success_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        with self._lock:
            self.paid[out_trade_no] = self.paid.get(out_trade_no, 0) + amount_fen
        private_key = self.private_key_file.read_bytes()
        notified: list[int] = []
        response: Any = None
        for _ in range(deliveries):
            status, response = self._deliver(private_key, body)
            notified.append(status)
        log.info("paid %s (%d fen) as %s: notified %s", out_trade_no, amount_fen, transaction_id, notified)
        return {"transaction_id": transaction_id, "notified": notified, "response": response}

    def refund(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One refund per `out_refund_no`: (status, answer)."""
        number, trade, amount = request["out_refund_no"], request["out_trade_no"], request["amount_fen"]
        if not isinstance(number, str) or not number or not isinstance(trade, str) or not trade:
            raise ValueError("out_refund_no and out_trade_no must be non-empty strings")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("amount_fen must be a positive integer")
        with self._lock:
            self.refund_calls += 1
            if self.fail_next_refunds > 0:
                self.fail_next_refunds -= 1
                return 503, {"code": "unavailable", "message": "the provider is unavailable; try again"}
            known = self.refunds.get(number)
            if known is not None:
                if (known["out_trade_no"], known["amount_fen"]) != (trade, amount):
                    return 409, {"code": "refund_number_used", "message": f"{number} is another refund"}
                return 200, known
            taken = self.paid.get(trade)
            if taken is not None:
                already = sum(r["amount_fen"] for r in self.refunds.values() if r["out_trade_no"] == trade)
                if already + amount > taken:
                    return 400, {
                        "code": "refund_exceeds_payment",
                        "message": f"{trade} took {taken} fen, {already} already refunded",
                    }
            answer = {
                "refund_id": "sbxr-" + uuid.uuid4().hex,
                "out_refund_no": number,
                "out_trade_no": trade,
                "amount_fen": amount,
                "status": "SUCCESS",
                "success_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            self.refunds[number] = answer
        log.info("refunded %s of %s (%d fen) as %s", number, trade, amount, answer["refund_id"])
        return 200, answer

    def _deliver(self, private_key: bytes, body: str) -> tuple[int, Any]:
        status, response = 0, None
        for attempt in range(len(RETRY_DELAYS) + 1):
            if attempt:
                time.sleep(RETRY_DELAYS[attempt - 1])
            headers = {"Content-Type": "application/json; charset=utf-8", **sandbox.sign(private_key, body)}
            request = urllib.request.Request(  # noqa: S310 - the API's loopback URL
                self.callback_url, data=body.encode(), headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - loopback URL
                    status, raw = reply.status, reply.read()
            except urllib.error.HTTPError as err:
                status, raw = err.code, err.read()
            except OSError as err:
                status, raw = 0, json.dumps({"code": "unreachable", "message": str(err)}).encode()
            try:
                response = json.loads(raw or b"null")
            except ValueError:
                response = raw.decode(errors="replace")
            if HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES:
                break
            log.warning("notification to %s answered %s (attempt %d)", self.callback_url, status, attempt + 1)
        return status, response
