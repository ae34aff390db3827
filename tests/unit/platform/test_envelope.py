"""The envelope every device message arrives in (the IoT rule's event shape)."""

from __future__ import annotations

import pytest

from chalicelib.platform import envelope


def test_an_event_without_a_payload_is_refused() -> None:
    with pytest.raises(envelope.InvalidMessage):
        envelope.envelope({"topic_device_id": "x"})
    with pytest.raises(envelope.InvalidMessage):
        envelope.envelope({"topic_device_id": "x", "payload_b64": "***"})
