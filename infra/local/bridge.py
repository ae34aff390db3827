"""The IoT rules bridge: iot-rules/*.json applied to the local broker's messages.

For every rule it subscribes to the rule's FROM topic filter, evaluates the rule's SQL on each
message exactly as AWS IoT shapes the Lambda event (see `iotsql`), and invokes the app handler the
rule's `action.lambda` names, in-process, on a small thread pool (never on the MQTT network loop).
When the handler raises, the rule's error action sends IoT's error payload to the SQS queue named
in `errorAction.sqs` (moto), where the local SQS poller hands it to the app's queue consumer.
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
from pathlib import Path
from types import ModuleType
from typing import Any

import paho.mqtt.client as mqtt

from infra.local import iotsql, runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicRule:
    name: str
    parsed: iotsql.Rule
    function: str
    handler: runtime.Handler
    error_queue: str | None


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
        workers: int = 8,
    ) -> None:
        self.rules = rules
        self.host = host
        self.port = port
        self.sqs = sqs_client
        self.region = region
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iot-rule")
        self._subscribed = threading.Event()
        self._queue_urls: dict[str, str] = {}
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"parkcharge-local-rules-bridge-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        self._client.on_socket_open = lambda _c, _u, sock: _set_nodelay(sock)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)

    def ensure_queues(self) -> None:
        for rule in self.rules:
            if rule.error_queue and rule.error_queue not in self._queue_urls:
                self._queue_urls[rule.error_queue] = self.sqs.create_queue(QueueName=rule.error_queue)[
                    "QueueUrl"
                ]

    def start(self, timeout: float = 15.0) -> None:
        self.ensure_queues()
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            raise RuntimeError(f"rules bridge could not subscribe on {self.host}:{self.port}")
        for rule in self.rules:
            log.info("rule %s: %s -> %s", rule.name, rule.parsed.topic_filter, rule.function)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._pool.shutdown(wait=True, cancel_futures=True)

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
                self._pool.submit(self._apply, rule, message)

    def _apply(self, rule: TopicRule, message: iotsql.Message) -> None:
        try:
            event = rule.parsed.evaluate(message)
        except Exception as exc:
            log.exception("rule %s: SQL evaluation failed on %s", rule.name, message.topic)
            self._error_action(rule, message, f"SQL evaluation failed: {exc}")
            return
        if event is None:
            return
        started = time.perf_counter()
        try:
            runtime.invoke(rule.handler, rule.function, event, self.region)
        except Exception as exc:
            log.exception("rule %s: %s raised on %s", rule.name, rule.function, message.topic)
            self._error_action(rule, message, f"{type(exc).__name__}: {exc}")
            return
        log.info("%s <- %s (%.1f ms)", rule.function, message.topic, (time.perf_counter() - started) * 1000)

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
