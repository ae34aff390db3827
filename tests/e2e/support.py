"""Helpers shared by the e2e tests: how to reach the stack, the demo lot's ids, fresh plates."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from infra.local.keys import LocalKeys, mint_token
from infra.local.simulator import GateDevice

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0
ARRIVAL_TIMEOUT = 10.0
COMMAND_TIMEOUT = 2

ENTRY_DEVICE, ENTRY_LANE = "demo-entry-cam", "entry-1"
EXIT_DEVICE, EXIT_LANE = "demo-exit-cam", "exit-1"
DEMO_LOT = "demo-lot"
DEMO_OPERATOR = "demo-op"
DEMO_PLATE = "粤B12345"
DEMO_DRIVER = "demo-driver"

_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class Stack:
    api: str
    pay: str
    mqtt_host: str
    mqtt_port: int
    keys: LocalKeys
    log: Path
    certs_dir: Path | None = None  # the local CA: devices connect with their certificates
    aws_endpoint_url: str = ""
    pids: dict[str, int] | None = None
    wechat: str = ""  # the WeChat Pay fake's base URL
    alipay: str = ""  # the Alipay fake's gateway.do URL

    def token(self, sub: str, groups: list[str], operator_id: str | None = None) -> str:
        return mint_token(self.keys, sub, groups, operator_id=operator_id)

    def device(self, device_id: str, lane_id: str | None = None, **kwargs: Any) -> GateDevice:
        kwargs.setdefault("certs_dir", self.certs_dir)
        return GateDevice(
            device_id, lane_id, self.mqtt_host, self.mqtt_port, timeout=ARRIVAL_TIMEOUT, **kwargs
        )


class Api:
    """requests with a bearer token and the API's base URL."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params or None, timeout=15)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=15)


def new_plate() -> str:
    """A fresh plate for one test, so tests never see each other's visits."""
    return "粤B" + random.choice(_PLATE_LETTERS) + f"{random.randrange(10000):04d}"


@dataclass
class Driver:
    sub: str
    plate: str
    api: Api
