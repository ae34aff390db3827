"""The backend's downlink publisher on the local broker over mutual TLS, with its own identity
(`certs.BACKEND`), installed by the local stack in place of the app's plain MQTT publisher. One
long-lived connection per process, TCP_NODELAY, QoS 1 — the app's IoT data plane `Publish`
in AWS."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from infra.local import certs


def _no_delay(_client: Any, _userdata: Any, sock: Any) -> None:
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class TlsMqttPublisher:
    def __init__(self, host: str, port: int, certs_dir: Path, timeout: float = 10.0) -> None:
        from chalicelib.platform.downlink import encode

        self._encode = encode
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=certs.BACKEND)
        certs.paho_tls(self._client, certs.certificate(certs_dir, certs.BACKEND))
        self._connected = threading.Event()
        self._client.on_connect = lambda *_args, **_kw: self._connected.set()
        self._client.on_disconnect = lambda *_args, **_kw: self._connected.clear()
        self._client.on_socket_open = _no_delay
        self._client.connect(host, port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(timeout):
            raise ConnectionError(f"MQTT broker {host}:{port} did not accept the backend's certificate")

    def publish(self, topic: str, message: Any) -> None:
        info = self._client.publish(topic, self._encode(message), qos=1)
        info.wait_for_publish(timeout=5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def install(host: str, port: int, certs_dir: Path) -> TlsMqttPublisher:
    """Make it the app's publisher (the app's own would connect without a certificate)."""
    from chalicelib.platform import downlink

    publisher = TlsMqttPublisher(host, port, certs_dir)
    downlink.set_publisher(publisher)
    return publisher
