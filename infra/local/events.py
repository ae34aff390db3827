"""The app's non-HTTP event sources, discovered from the Chalice app object:

- `Scheduler` fires every `@app.schedule` function at its rate with the EventBridge
  "Scheduled Event" shape (cron expressions are skipped with a log line);
- `SqsPoller` long-polls every `@app.on_sqs_message` queue in moto and calls the consumer with the
  SQS Lambda event shape, deleting the messages it handled (partial batch responses honoured).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from chalice.app import ScheduledEventConfig, SQSEventConfig

from infra.local import runtime

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs for `rate(N unit)`; None for cron or anything else."""
    m = _RATE.match(expression.strip())
    if not m:
        return None
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")]


def _expression(config: ScheduledEventConfig) -> str:
    expr = config.schedule_expression
    return expr if isinstance(expr, str) else expr.to_string()


@dataclass
class _Job:
    name: str
    expression: str
    period: float
    handler: runtime.Handler
    next_run: float


class Scheduler:
    def __init__(self, app_module: ModuleType, region: str, speedup: float = 1.0) -> None:
        self.region = region
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self.jobs: list[_Job] = []
        app = app_module.app
        now = time.monotonic()
        for source in app.event_sources:
            if not isinstance(source, ScheduledEventConfig):
                continue
            expression = _expression(source)
            period = rate_seconds(expression)
            if period is None:
                log.warning("schedule %s (%s): cron is not run by the local stack", source.name, expression)
                continue
            period = max(period / speedup, 0.5)
            handler = runtime.handler(app_module, source.name)
            self.jobs.append(_Job(source.name, expression, period, handler, now + period))

    def start(self) -> None:
        for job in self.jobs:
            log.info("schedule %s: %s (every %.1f s locally)", job.name, job.expression, job.period)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def event(self, job: _Job) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": runtime.ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [
                f"arn:aws:events:{self.region}:{runtime.ACCOUNT_ID}:rule/parkcharge-local-{job.name}"
            ],
            "detail": {},
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for job in self.jobs:
                if now >= job.next_run:
                    job.next_run = now + job.period
                    try:
                        runtime.invoke(job.handler, job.name, self.event(job), self.region)
                    except Exception:
                        log.exception("scheduled function %s failed", job.name)
            wait = min((job.next_run for job in self.jobs), default=now + 1.0) - time.monotonic()
            self._stop.wait(max(0.05, min(wait, 1.0)))


@dataclass
class _Consumer:
    name: str
    queue: str
    url: str
    arn: str
    batch_size: int
    handler: runtime.Handler


class SqsPoller:
    def __init__(self, app_module: ModuleType, sqs_client: Any, region: str) -> None:
        self.sqs = sqs_client
        self.region = region
        self._stop = threading.Event()
        self.consumers: list[_Consumer] = []
        self._threads: list[threading.Thread] = []
        for source in app_module.app.event_sources:
            if not isinstance(source, SQSEventConfig):
                continue
            queue = source.queue or (source.queue_arn or "").rsplit(":", 1)[-1]
            url = self.sqs.create_queue(QueueName=queue)["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            handler = runtime.handler(app_module, source.name)
            self.consumers.append(
                _Consumer(source.name, queue, url, arn, min(source.batch_size, 10), handler)
            )

    def start(self) -> None:
        for consumer in self.consumers:
            log.info("queue %s -> %s", consumer.queue, consumer.name)
            thread = threading.Thread(
                target=self._run, args=(consumer,), name=f"sqs-{consumer.queue}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def event(self, consumer: _Consumer, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": m.get("MessageAttributes", {}),
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": consumer.arn,
                    "awsRegion": self.region,
                }
                for m in messages
            ]
        }

    def _run(self, consumer: _Consumer) -> None:
        while not self._stop.is_set():
            try:
                response = self.sqs.receive_message(
                    QueueUrl=consumer.url,
                    MaxNumberOfMessages=consumer.batch_size,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("receiving from %s failed", consumer.queue)
                self._stop.wait(2)
                continue
            messages = response.get("Messages", [])
            if not messages:
                self._stop.wait(0.2)
                continue
            try:
                result = runtime.invoke(
                    consumer.handler, consumer.name, self.event(consumer, messages), self.region
                )
            except Exception:
                log.exception(
                    "queue consumer %s failed; messages return after the visibility timeout", consumer.name
                )
                continue
            items = result.get("batchItemFailures") or [] if isinstance(result, dict) else []
            failed = {item.get("itemIdentifier") for item in items}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=consumer.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
