"""MQTT topics for chargers: one up and one down topic per charger, each OCPP 1.6J frame carried
unchanged (an OCPP gateway bridges chargers that speak WebSocket)."""

PREFIX = "parkcharge/charger"


def up(charger_id: str) -> str:
    return f"{PREFIX}/{charger_id}/ocpp/up"


def down(charger_id: str) -> str:
    return f"{PREFIX}/{charger_id}/ocpp/down"
