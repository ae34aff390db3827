"""The MQTT topic layout for gate devices (see docs/mqtt.md).

Up (device → cloud):   parkcharge/gate/{device_id}/up/{capture|ack|status}
Down (cloud → device): parkcharge/gate/{device_id}/down/{command|error}
Each device's IoT policy allows it only the topics under its own thing name.
"""

PREFIX = "parkcharge/gate"


def up(device_id: str, kind: str) -> str:
    return f"{PREFIX}/{device_id}/up/{kind}"


def down(device_id: str, kind: str) -> str:
    return f"{PREFIX}/{device_id}/down/{kind}"
