"""PynamoDB models, one module per table. `ALL_MODELS` is the single list both the CDK stack and
the local stack build their tables from."""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.models.charging import (
    Charger,
    ChargingSession,
    ChargingTariffVersion,
    Connector,
    QrCode,
    Station,
    Wallet,
)
from chalicelib.models.commands import Command
from chalicelib.models.dead_letters import DeadLetter
from chalicelib.models.device_messages import DeviceMessage
from chalicelib.models.devices import Device
from chalicelib.models.lots import Lane, Lot
from chalicelib.models.operators import Operator
from chalicelib.models.payments import Payment
from chalicelib.models.plates import PlateBinding
from chalicelib.models.quotes import Quote
from chalicelib.models.records import Record
from chalicelib.models.tariffs import TariffVersion
from chalicelib.models.visits import Visit

ALL_MODELS: list[type[Model]] = [
    Operator,
    Lot,
    Lane,
    Device,
    Visit,
    Quote,
    Payment,
    Record,
    DeadLetter,
    Command,
    DeviceMessage,
    PlateBinding,
    TariffVersion,
    Station,
    Charger,
    Connector,
    QrCode,
    ChargingTariffVersion,
    Wallet,
    ChargingSession,
]


def create_all_tables() -> None:
    """Create every table that does not exist yet (local stack and tests)."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
