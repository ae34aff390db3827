"""Dead letters: what an IoT rule could not deliver is kept with its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chalicelib.platform import dead_letters
from chalicelib.platform.models import DeadLetter

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def test_iot_rule_failures_become_dead_letters(demo) -> None:
    body = json.dumps(
        {
            "ruleName": "parkcharge_gate_capture",
            "topic": "parkcharge/gate/x/up/capture",
            "failures": [{"errorMessage": "Lambda throttled"}],
        }
    )
    assert dead_letters.store_rule_failures([{"body": body}], T0) == 1
    [letter] = DeadLetter.query("iot-rule")
    assert "Lambda throttled" in letter.reason
