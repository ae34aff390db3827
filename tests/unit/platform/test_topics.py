"""Topic names: one namespace of devices, each with its own up and down topics."""

from __future__ import annotations

from chalicelib.platform import topics as charger_topics


def test_topics() -> None:
    assert charger_topics.charger_up("demo-charger-1") == "parkcharge/charger/demo-charger-1/ocpp/up"
    assert charger_topics.charger_down("demo-charger-1") == "parkcharge/charger/demo-charger-1/ocpp/down"
    assert charger_topics.charger_of("parkcharge/charger/demo-charger-1/ocpp/up") == "demo-charger-1"
    assert charger_topics.charger_of(charger_topics.charger_down("c-2")) == "c-2"
    for other in (
        "parkcharge/gate/cam/up/capture",
        "parkcharge/charger//ocpp/up",
        "parkcharge/charger/c/ocpp",
    ):
        assert charger_topics.charger_of(other) is None
