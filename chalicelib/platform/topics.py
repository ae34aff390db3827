"""The MQTT topic layout (docs/mqtt.md, docs/ocpp.md). Each device's IoT policy allows it only
the topics under its own thing name.

Gate devices:
  up (device → cloud):   parkcharge/gate/{device_id}/up/{capture|ack|status}
  down (cloud → device): parkcharge/gate/{device_id}/down/{command|error}
Lots (not a device's own topics):
  parkcharge/lot/{lot_id}/occupancy/changed   backend → the guidance publisher (IoT rule)
  parkcharge/lot/{lot_id}/guidance            free spaces for the lot's guidance screens (retained)
Chargers (one OCPP 1.6J frame per message, carried unchanged):
  up (charger → cloud):   parkcharge/charger/{charger_id}/ocpp/up
  down (cloud → charger): parkcharge/charger/{charger_id}/ocpp/down
"""

GATE_PREFIX = "parkcharge/gate"
CHARGER_PREFIX = "parkcharge/charger"
LOT_PREFIX = "parkcharge/lot"
CHARGER_UP_FILTER = f"{CHARGER_PREFIX}/+/ocpp/up"  # every charger's up topic (the IoT rule's FROM)


def up(device_id: str, kind: str) -> str:
    return f"{GATE_PREFIX}/{device_id}/up/{kind}"


def down(device_id: str, kind: str) -> str:
    return f"{GATE_PREFIX}/{device_id}/down/{kind}"


def charger_up(charger_id: str) -> str:
    return f"{CHARGER_PREFIX}/{charger_id}/ocpp/up"


def charger_down(charger_id: str) -> str:
    return f"{CHARGER_PREFIX}/{charger_id}/ocpp/down"


def charger_of(topic: str) -> str | None:
    """The charger id in an up or down topic, or None for any other topic."""
    parts = topic.split("/")
    if (
        len(parts) == 5
        and "/".join(parts[:2]) == CHARGER_PREFIX
        and parts[3] == "ocpp"
        and parts[4] in ("up", "down")
    ):
        return parts[2] or None
    return None


def lot_changed(lot_id: str) -> str:
    return f"{LOT_PREFIX}/{lot_id}/occupancy/changed"


def guidance(lot_id: str) -> str:
    return f"{LOT_PREFIX}/{lot_id}/guidance"
