"""The local rules bridge's IoT SQL must shape events exactly as AWS IoT does, or the e2e tests
would exercise a different event than production. No stack needed (not marked e2e)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from infra.local import iotsql

RULES = Path(__file__).resolve().parents[3] / "iot-rules"


def _message(topic: str, payload: bytes) -> iotsql.Message:
    return iotsql.Message(topic=topic, payload=payload, timestamp_ms=1_795_000_000_123)


@pytest.mark.parametrize("path", sorted(RULES.glob("*.json")), ids=lambda p: p.stem)
def test_every_rule_parses_and_shapes_the_lambda_event(path: Path) -> None:
    rule = iotsql.parse(json.loads(path.read_text(encoding="utf-8"))["sql"])
    # a concrete topic for the rule's filter, with the device's thing name where the filter has '+'
    topic = rule.topic_filter.replace("+", "cam-1").replace("#", "x")
    assert iotsql.topic_matches(rule.topic_filter, topic)
    raw = b'\xff not json {"plate": 1'
    assert rule.evaluate(_message(topic, raw)) == {
        "payload_b64": base64.b64encode(raw).decode(),
        "topic": topic,
        "topic_device_id": "cam-1",
        "received_at": 1_795_000_000_123,
    }


def test_fields_star_where_and_undefined() -> None:
    rule = iotsql.parse(
        "SELECT *, a.b AS deep, missing.x AS gone, topic(9) AS nothing, topic(2) AS second "
        "FROM 'x/+/#' WHERE a.b >= 2 AND NOT (kind = 'skip' OR kind <> kind)"
    )
    body = {"a": {"b": 3}, "kind": "keep"}
    event = rule.evaluate(_message("x/y/z", json.dumps(body).encode()))
    assert event == {"a": {"b": 3}, "kind": "keep", "deep": 3, "second": "y"}
    assert rule.evaluate(_message("x/y/z", b'{"a": {"b": 1}}')) is None
    assert rule.evaluate(_message("x/y/z", b"not json")) is None  # undefined in WHERE is false


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT clientid() AS c FROM 'a/b'",
        "SELECT encode(*, 'hex') AS h FROM 'a/b'",
        "SELECT topic(0) AS t FROM 'a/b'",
        "SELECT a FROM 'a/b' GROUP BY a",
        "SELECT 1 FROM 'a/b'",
    ],
)
def test_unsupported_sql_is_refused_at_startup(sql: str) -> None:
    with pytest.raises(iotsql.UnsupportedSql):
        iotsql.parse(sql)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("a/+", "a/b/c", False),
        ("a/b", "a/b", True),
    ],
)
def test_topic_filters(topic_filter: str, topic: str, matches: bool) -> None:
    assert iotsql.topic_matches(topic_filter, topic) is matches
