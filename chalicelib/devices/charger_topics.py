"""MQTT topics for chargers (docs/ocpp.md): one up and one down topic per charger, each OCPP 1.6J
frame carried unchanged (an OCPP gateway bridges chargers that speak WebSocket).

Up (charger → parkcharge):   parkcharge/charger/{charger_id}/ocpp/up
Down (parkcharge → charger): parkcharge/charger/{charger_id}/ocpp/down
Each charger's IoT policy allows it only the topics under its own thing name.
"""

PREFIX = "parkcharge/charger"
UP_FILTER = f"{PREFIX}/+/ocpp/up"  # every charger's up topic (the IoT rule's FROM)


def up(charger_id: str) -> str:
    return f"{PREFIX}/{charger_id}/ocpp/up"


def down(charger_id: str) -> str:
    return f"{PREFIX}/{charger_id}/ocpp/down"


def charger_of(topic: str) -> str | None:
    """The charger id in an up or down topic, or None for any other topic."""
    parts = topic.split("/")
    if (
        len(parts) == 5
        and "/".join(parts[:2]) == PREFIX
        and parts[3] == "ocpp"
        and parts[4] in ("up", "down")
    ):
        return parts[2] or None
    return None
