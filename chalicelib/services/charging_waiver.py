"""Charging waives parking (充电减免停车费): when a plate charges at a station inside a parking
lot, the plate's visit in that lot gets the station's configured reduction, once per visit."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import UpdateError

from chalicelib.domain import plates
from chalicelib.models.charging import ChargingSession, Station
from chalicelib.models.visits import INSIDE, Visit, lot_plate_key


def apply(session: ChargingSession, now: datetime) -> bool:
    if not session.plate or int((session.bill or {}).get("energy_wh", 0)) <= 0:
        return False
    try:
        station = Station.get(session.station_id)
    except Station.DoesNotExist:
        return False
    waiver = station.parking_waiver or {}
    lot_id = waiver.get("lot_id")
    if not lot_id:
        return False
    plate = plates.normalize(session.plate)
    for visit in Visit.query(
        lot_plate_key(lot_id, plate), scan_index_forward=False, limit=1, consistent_read=True
    ):
        if visit.status != INSIDE:
            return False
        grant = {
            "session_id": session.session_id,
            "station_id": station.station_id,
            "minutes": int(waiver.get("minutes", 0)),
            "fen": int(waiver.get("fen", 0)),
        }
        try:
            visit.update(
                actions=[Visit.charging_waiver.set(grant)],
                condition=Visit.charging_waiver.does_not_exist() & (Visit.status == INSIDE),
            )
        except UpdateError:
            return False
        return True
    return False
