"""The IoT rules bridge: iot-rules/*.json applied to the local broker's messages.

For every rule it subscribes to the rule's FROM topic filter, evaluates the rule's SQL on each
message exactly as AWS IoT shapes the Lambda event (see `iotsql`), and invokes the app handler the
rule's `action.lambda` names, in-process, on a thread pool (never on the MQTT network loop), with
AWS's delivery semantics:

- IoT invokes Lambda **asynchronously**: the rule's action succeeds once the event is queued. A
  handler that raises is retried twice (AWS's default `MaximumRetryAttempts`; the delays are
  shortened locally) and then sent to the function's **on-failure destination**, an SQS queue,
  as Lambda's destination record (`requestContext.condition` "RetriesExhausted",
  `requestPayload`, `responsePayload.errorMessage` …). The CDK stack declares the same
  destination (the IoT dead-letter queue) for every IoT-invoked function.
- The rule's **error action** (IoT's error payload: `ruleName`, `topic`, `base64OriginalPayload`,
  `failures[].errorMessage`) is for what fails before the function runs: here, SQL evaluation.

Both land on the queue whose `@app.on_sqs_message` consumer stores them as dead letters; a
message the consumer cannot store stays on the queue and comes back after its visibility timeout.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import paho.mqtt.client as mqtt

from infra.functions import RESERVED_CONCURRENCY
from infra.local import certs, iotsql, runtime

log = logging.getLogger(__name__)

# Lambda retries a failed asynchronous invocation twice (after about 1 and 2 minutes in AWS).
ASYNC_RETRIES = 2


@dataclass(frozen=True)
class TopicRule:
    name: str
    parsed: iotsql.Rule
    function: str
    handler: runtime.Handler
    error_queue: str | None

    @property
    def on_failure_queue(self) -> str | None:
        """The function's on-failure destination: the IoT dead-letter queue (as in the CDK stack)."""
        return self.error_queue


def load_rules(rules_dir: Path, app_module: ModuleType) -> list[TopicRule]:
    """Parse every iot-rules/*.json; unsupported SQL or an unknown target stops the stack."""
    rules: list[TopicRule] = []
    for path in sorted(rules_dir.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        name = doc.get("ruleName") or path.stem
        if doc.get("ruleDisabled"):
            log.info("rule %s is disabled", name)
            continue
        action = doc.get("action") or {}
        if set(action) != {"lambda"}:
            raise iotsql.UnsupportedSql(
                f"{path.name}: only a `lambda` action is supported locally, got {action}"
            )
        error_action = doc.get("errorAction") or {}
        if error_action and set(error_action) != {"sqs"}:
            raise iotsql.UnsupportedSql(f"{path.name}: only an `sqs` error action is supported locally")
        version = doc.get("awsIotSqlVersion", "2016-03-23")
        if version != "2016-03-23":
            raise iotsql.UnsupportedSql(f"{path.name}: awsIotSqlVersion {version} is not supported locally")
        try:
            parsed = iotsql.parse(doc["sql"])
        except iotsql.UnsupportedSql as exc:
            raise iotsql.UnsupportedSql(f"{path.name}: {exc}") from exc
        function = action["lambda"]
        rules.append(
            TopicRule(
                name=name,
                parsed=parsed,
                function=function,
                handler=runtime.handler(app_module, function),
                error_queue=error_action.get("sqs"),
            )
        )
    return rules


def _set_nodelay(sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class RulesBridge:
    def __init__(
        self,
        rules: list[TopicRule],
        host: str,
        port: int,
        sqs_client: Any,
        region: str,
        workers: int = 16,
        certs_dir: Path | None = None,
        retry_delay: float = 1.0,
    ) -> None:
        self.rules = rules
        self.host = host
        self.port = port
        self.sqs = sqs_client
        self.region = region
        self.retry_delay = retry_delay
        # Concurrent invocations like Lambda's (one execution environment each), bounded, per
        # function: a function with reserved concurrency runs at most that many at once (its
        # other events wait), as in the CDK stack (infra/functions.py).
        self._workers = workers
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._timers: set[threading.Timer] = set()
        self._timers_lock = threading.Lock()
        self._queue_urls: dict[str, str] = {}
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"parkcharge-local-rules-bridge-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if certs_dir is not None:
            certs.paho_tls(self._client, certs.certificate(certs_dir, certs.BRIDGE))
        self._client.on_socket_open = lambda _c, _u, sock: _set_nodelay(sock)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)

    def ensure_queues(self) -> None:
        for rule in self.rules:
            for queue in (rule.error_queue, rule.on_failure_queue):
                if queue and queue not in self._queue_urls:
                    self._queue_urls[queue] = self.sqs.create_queue(QueueName=queue)["QueueUrl"]

    def start(self, timeout: float = 15.0) -> None:
        self.ensure_queues()
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            raise RuntimeError(f"rules bridge could not subscribe on {self.host}:{self.port}")
        for rule in self.rules:
            log.info("rule %s: %s -> %s", rule.name, rule.parsed.topic_filter, rule.function)

    def stop(self, timeout: float = 1.0) -> None:
        """Stop taking messages, drop the queued backlog and pending retries (an execution
        environment going away), and wait up to `timeout` for the invocations already running."""
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()
        with self._timers_lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        with self._pools_lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for pool in pools:
            for worker in list(getattr(pool, "_threads", ())):
                worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def concurrency(self, function: str) -> int:
        """How many invocations of `function` run at once."""
        return RESERVED_CONCURRENCY.get(function, self._workers)

    def _pool(self, function: str) -> ThreadPoolExecutor:
        with self._pools_lock:
            pool = self._pools.get(function)
            if pool is None:
                pool = self._pools[function] = ThreadPoolExecutor(
                    max_workers=self.concurrency(function), thread_name_prefix=f"iot-{function}"
                )
            return pool

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("rules bridge connection refused: %s", reason)
            return
        filters = sorted({rule.parsed.topic_filter for rule in self.rules})
        if filters:
            client.subscribe([(f, 1) for f in filters])
        else:
            self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        message = iotsql.Message(
            topic=msg.topic, payload=bytes(msg.payload), timestamp_ms=int(time.time() * 1000)
        )
        for rule in self.rules:
            if iotsql.topic_matches(rule.parsed.topic_filter, message.topic):
                self._submit(rule.function, self._apply, rule, message)

    def _submit(self, function: str, fn: Any, *args: Any) -> None:
        if self._stopping.is_set():
            return
        try:
            self._pool(function).submit(fn, *args)
        except RuntimeError:  # the pool shut down meanwhile
            return

    def _apply(self, rule: TopicRule, message: iotsql.Message) -> None:
        try:
            event = rule.parsed.evaluate(message)
        except Exception as exc:
            log.exception("rule %s: SQL evaluation failed on %s", rule.name, message.topic)
            self._error_action(rule, message, f"SQL evaluation failed: {exc}")
            return
        if event is None:
            return
        # Asynchronous invocation: the event is queued for the function with a request id.
        self._invoke(rule, message, event, str(uuid.uuid4()), 1)

    def _invoke(
        self, rule: TopicRule, message: iotsql.Message, event: dict[str, Any], request_id: str, attempt: int
    ) -> None:
        if self._stopping.is_set():
            return
        started = time.perf_counter()
        try:
            runtime.invoke(rule.handler, rule.function, event, self.region)
        except Exception as exc:
            if self._stopping.is_set():  # the stack is going away, and its queued events with it
                log.debug("%s raised while the stack stops: %s", rule.function, exc)
                return
            if attempt <= ASYNC_RETRIES:
                log.warning(
                    "rule %s: %s raised on %s (attempt %d, retried): %s",
                    rule.name,
                    rule.function,
                    message.topic,
                    attempt,
                    exc,
                )
                self._retry_later(rule, message, event, request_id, attempt + 1)
                return
            log.exception(
                "rule %s: %s raised on %s after %d attempts", rule.name, rule.function, message.topic, attempt
            )
            self._on_failure(rule, event, request_id, attempt, exc)
            return
        log.info("%s <- %s (%.1f ms)", rule.function, message.topic, (time.perf_counter() - started) * 1000)

    def _retry_later(
        self, rule: TopicRule, message: iotsql.Message, event: dict[str, Any], request_id: str, attempt: int
    ) -> None:
        delay = self.retry_delay * (2 ** (attempt - 2))

        def fire() -> None:
            with self._timers_lock:
                self._timers.discard(timer)
            self._submit(rule.function, self._invoke, rule, message, event, request_id, attempt)

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._timers_lock:
            if self._stopping.is_set():
                return
            self._timers.add(timer)
        timer.start()

    def destination_record(
        self, rule: TopicRule, event: dict[str, Any], request_id: str, attempts: int, exc: Exception
    ) -> dict[str, Any]:
        """What Lambda sends to an on-failure destination after an asynchronous invocation failed."""
        return {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": request_id,
                "functionArn": f"arn:aws:lambda:{self.region}:{runtime.ACCOUNT_ID}:function:"
                f"{runtime.FUNCTION_PREFIX}{rule.function}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": request_id,
                "stackTrace": [],
            },
        }

    def _on_failure(
        self, rule: TopicRule, event: dict[str, Any], request_id: str, attempts: int, exc: Exception
    ) -> None:
        queue = rule.on_failure_queue
        if not queue:
            log.error("%s has no on-failure destination: event %s dropped", rule.function, request_id)
            return
        body = self.destination_record(rule, event, request_id, attempts, exc)
        try:
            url = self._queue_urls.get(queue) or self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body, ensure_ascii=False, default=str))
        except Exception:
            log.exception(
                "%s: on-failure destination %s failed; event %s lost", rule.function, queue, request_id
            )

    def _error_action(self, rule: TopicRule, message: iotsql.Message, error: str) -> None:
        if not rule.error_queue:
            log.error("rule %s has no error action: message on %s dropped", rule.name, message.topic)
            return
        body = {
            "ruleName": rule.name,
            "topic": message.topic,
            "cloudwatchTraceId": str(uuid.uuid4()),
            # The publisher's client id is not visible to a subscriber on the local broker.
            "clientId": "",
            "base64OriginalPayload": base64.b64encode(message.payload).decode("ascii"),
            "failures": [
                {
                    "failedAction": "LambdaAction",
                    "failedResource": f"{runtime.FUNCTION_PREFIX}{rule.function}",
                    "errorMessage": error,
                }
            ],
        }
        try:
            url = (
                self._queue_urls.get(rule.error_queue)
                or self.sqs.get_queue_url(QueueName=rule.error_queue)["QueueUrl"]
            )
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body, ensure_ascii=False))
        except Exception:
            log.exception("rule %s: error action to %s failed; message lost", rule.name, rule.error_queue)
