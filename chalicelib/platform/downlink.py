"""Publishing to devices' down topics.

In AWS the IoT data plane (`iot-data` Publish, QoS 1). Locally (`PARKCHARGE_DOWNLINK=mqtt`) the
same messages go to the local broker over one long-lived MQTT connection per process.
Tests may install a recorder with `set_publisher`.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any, Protocol

from chalicelib.shared.settings import get_settings


class Publisher(Protocol):
    def publish(self, topic: str, message: Any) -> None: ...


def encode(message: Any) -> bytes:
    """JSON objects (gate commands) or arrays (OCPP frames), or text already encoded."""
    if isinstance(message, str):
        return message.encode()
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


class IotDataPublisher:
    def __init__(self) -> None:
        import boto3

        settings = get_settings()
        self._client = boto3.client(
            "iot-data", endpoint_url=settings.iot_data_endpoint, region_name=settings.region
        )

    def publish(self, topic: str, message: Any) -> None:
        self._client.publish(topic=topic, qos=1, payload=encode(message))


def _no_delay(_client: Any, _userdata: Any, sock: Any) -> None:
    """Send each publish at once (Nagle would hold small packets back for tens of ms)."""
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttPublisher:
    """A paho client with TCP_NODELAY, connected once and kept (reconnects on its own)."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as mqtt

        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"parkcharge-backend-{id(self):x}"
        )
        self._connected = threading.Event()
        self._client.on_connect = lambda *_args, **_kw: self._connected.set()
        self._client.on_disconnect = lambda *_args, **_kw: self._connected.clear()
        self._client.on_socket_open = _no_delay
        self._client.connect(host, port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(10):
            raise ConnectionError(f"MQTT broker {host}:{port} did not accept the connection")

    def publish(self, topic: str, message: Any) -> None:
        info = self._client.publish(topic, encode(message), qos=1)
        info.wait_for_publish(timeout=5)


_publisher: Publisher | None = None
_lock = threading.Lock()


def get_publisher() -> Publisher:
    global _publisher
    if _publisher is None:
        with _lock:
            if _publisher is None:
                settings = get_settings()
                if settings.downlink == "mqtt":
                    _publisher = MqttPublisher(settings.mqtt_host, settings.mqtt_port)
                else:
                    _publisher = IotDataPublisher()
    return _publisher


def set_publisher(publisher: Publisher | None) -> None:
    global _publisher
    _publisher = publisher
