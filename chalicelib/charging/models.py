"""Charging tables: stations, chargers with their connectors, QR codes, tariffs and sessions.
A charger's online state lives in the platform's device registry (its thing name).

Access patterns:
- Station by id (start checks, tariffs, parking waiver); an operator's stations (GSI `by_operator`).
- Charger by id (= IoT thing name; every OCPP frame); a station's chargers (GSI `by_station`);
  its connectors by (charger, connector id):
  the connector's OCPP status and the session on it, changed with conditions.
- QR code by id → charger and connector (driver start).
- Charging tariff versions by tariff id (latest in force: query descending).
- Session by id (= the OCPP idTag the charger echoes in StartTransaction); a user's sessions
  (GSI `by_user`); a charger's session by OCPP transaction id (GSI `by_transaction`); open
  sessions by last activity for the sweeper (sparse GSI `open_sessions`).
"""

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.shared.db import TableMeta, table_name_for


class StationsByOperator(GlobalSecondaryIndex["Station"]):
    class Meta:
        index_name = "by_operator"
        projection = AllProjection()

    operator_id = UnicodeAttribute(hash_key=True)
    station_id = UnicodeAttribute(range_key=True)


class Station(Model):
    class Meta(TableMeta):
        table_name = table_name_for("stations")

    station_id = UnicodeAttribute(hash_key=True)
    operator_id = UnicodeAttribute()
    name = UnicodeAttribute()
    timezone = UnicodeAttribute(default="Asia/Shanghai")
    # {"area_id": {"name": "...", "power_limit_w": 120000}}
    areas = JSONAttribute(default=dict)
    tariff_id = UnicodeAttribute(null=True)
    min_balance_fen = NumberAttribute(default=100)
    # A station inside a parking lot waives parking for plates that charged there:
    # {"lot_id": "...", "minutes": 120} or {"lot_id": "...", "fen": 500}
    parking_waiver = JSONAttribute(null=True)

    by_operator = StationsByOperator()


class Connector(Model):
    """A connector (枪) or e-bike socket (插座): its OCPP status and the session on it."""

    class Meta(TableMeta):
        table_name = table_name_for("connectors")

    charger_id = UnicodeAttribute(hash_key=True)
    connector_id = NumberAttribute(range_key=True)
    status = UnicodeAttribute(default="Unavailable")
    error_code = UnicodeAttribute(null=True)
    session_id = UnicodeAttribute(null=True)
    status_at = UTCDateTimeAttribute(null=True)


class ChargersByStation(GlobalSecondaryIndex["Charger"]):
    class Meta:
        index_name = "by_station"
        projection = AllProjection()

    station_id = UnicodeAttribute(hash_key=True)
    charger_id = UnicodeAttribute(range_key=True)


class Charger(Model):
    class Meta(TableMeta):
        table_name = table_name_for("chargers")

    charger_id = UnicodeAttribute(hash_key=True)
    operator_id = UnicodeAttribute()
    station_id = UnicodeAttribute()
    area_id = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(default="ev")  # ev | ebike
    serial = UnicodeAttribute(null=True)
    model = UnicodeAttribute(null=True)
    vendor = UnicodeAttribute(null=True)
    firmware_main = UnicodeAttribute(null=True)
    firmware_screen = UnicodeAttribute(null=True)
    current_type = UnicodeAttribute(default="DC")  # AC | DC
    rated_power_w = NumberAttribute(default=0)
    connector_count = NumberAttribute(default=1)
    booted_at = UTCDateTimeAttribute(null=True)
    transaction_counter = NumberAttribute(default=0)
    # Sessions whose stop was asked while the charger was offline: sent when it is heard again.
    pending_stops = UnicodeSetAttribute(null=True)

    by_station = ChargersByStation()


class QrCode(Model):
    class Meta(TableMeta):
        table_name = table_name_for("qr_codes")

    qr_id = UnicodeAttribute(hash_key=True)
    charger_id = UnicodeAttribute()
    connector_id = NumberAttribute()


class ChargingTariffVersion(Model):
    class Meta(TableMeta):
        table_name = table_name_for("charging_tariffs")

    tariff_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    operator_id = UnicodeAttribute()
    name = UnicodeAttribute()
    kind = UnicodeAttribute()  # ev | ebike
    definition = JSONAttribute()
    effective_from = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()


class SessionsByUser(GlobalSecondaryIndex["ChargingSession"]):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    session_id = UnicodeAttribute(range_key=True)


class SessionsByTransaction(GlobalSecondaryIndex["ChargingSession"]):
    class Meta:
        index_name = "by_transaction"
        projection = AllProjection()

    charger_id = UnicodeAttribute(hash_key=True)
    transaction_id = NumberAttribute(range_key=True)


class OpenSessions(GlobalSecondaryIndex["ChargingSession"]):
    class Meta:
        index_name = "open_sessions"
        projection = AllProjection()

    open_shard = UnicodeAttribute(hash_key=True)
    last_activity_at = UTCDateTimeAttribute(range_key=True)


class ChargingSession(Model):
    class Meta(TableMeta):
        table_name = table_name_for("charging_sessions")

    session_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    operator_id = UnicodeAttribute()
    station_id = UnicodeAttribute()
    charger_id = UnicodeAttribute()
    connector_id = NumberAttribute()
    plate = UnicodeAttribute(null=True)
    state = UnicodeAttribute()
    open_shard = UnicodeAttribute(null=True)  # set while the session is not finished
    tariff_ref = JSONAttribute()  # {"tariff_id", "version"}
    tariff = JSONAttribute()  # the definition in force at start (a session keeps it)
    timezone = UnicodeAttribute(null=True)  # the station's, at start (clock rules of the tariff)
    prepaid_fen = NumberAttribute()
    min_balance_fen = NumberAttribute(default=100)
    transaction_id = NumberAttribute(null=True)
    meter_start_wh = NumberAttribute(null=True)
    # [[ISO time, cumulative Wh], ...] sorted by time; energy never goes down
    readings = JSONAttribute(default=list)
    energy_wh = NumberAttribute(default=0)
    max_power_w = NumberAttribute(default=0)
    cost_fen = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    last_activity_at = UTCDateTimeAttribute()
    stop_requested_at = UTCDateTimeAttribute(null=True)
    end_reason = UnicodeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    bill = JSONAttribute(null=True)
    refunded_fen = NumberAttribute(default=0)
    abnormal_reason = UnicodeAttribute(null=True)
    # The prepay hold was released (settled or returned): exactly once, whatever the path.
    released_at = UTCDateTimeAttribute(null=True)
    # A stop asked while the charger was offline (sent on reconnect); the last stop sent.
    stop_pending = BooleanAttribute(null=True)
    stop_sent_at = UTCDateTimeAttribute(null=True)
    # The charger's clock offset measured at StartTransaction (device - server, seconds, within
    # the tolerance), and why readings were clamped or refused.
    clock_offset_s = NumberAttribute(null=True)
    reading_notes = JSONAttribute(null=True)
    # Refund requests still in flight (requested, not yet paid or refused).
    refund_requested_fen = NumberAttribute(default=0)
    version = VersionAttribute()

    by_user = SessionsByUser()
    by_transaction = SessionsByTransaction()
    open_sessions = OpenSessions()


MODELS: list[type[Model]] = [
    Station,
    Charger,
    Connector,
    QrCode,
    ChargingTariffVersion,
    ChargingSession,
]
