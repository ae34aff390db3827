"""Plateless cars (无牌车, docs/identities.md): each lane has a QR code; the driver's scan is the
capture. At an entry the visit is bound to the driver (a plate of their own, 无牌 + a code of
their account, bound to them like any plate, so quotes and payments work as for any car) and the
barrier opens; at the exit the same driver scans, pays if anything is due (also inside the free
period the scan is what opens), and the barrier opens. An open plateless visit blocks the same
driver's next plateless entry until staff close it (the stale-visit close)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from chalicelib.parking import config, gate, identities, plates
from chalicelib.parking.messages import Capture
from chalicelib.parking.models import INSIDE
from chalicelib.platform import inbox
from chalicelib.shared.errors import Conflict, Invalid, NotFound

PREFIX = "无牌"


def plate_of(user_id: str) -> str:
    """The driver's plateless plate: 无牌 and eight characters of their account."""
    return PREFIX + hashlib.sha256(user_id.encode()).hexdigest()[:8].upper()


def lane_qr(lot_id: str, lane_id: str) -> str:
    """What the lane's QR code holds: the app opens the scan with these two ids."""
    return f"parkcharge://plateless?lot_id={lot_id}&lane_id={lane_id}"


def scan(user_id: str, lot_id: str, lane_id: str, scan_id: str, now: datetime) -> dict[str, Any]:
    lot = config.lot(lot_id)
    lane = lot.lanes.get(lane_id) if lot is not None else None
    if lot is None or lane is None:
        raise NotFound("no such lane", "lane_not_found")
    if not lane.device_ids:
        raise Invalid("this lane has no gate device", "lane_without_device")
    plate = plate_of(user_id)
    device_id = lane.device_ids[0]
    capture = Capture(
        message_id=f"qr:{scan_id}",
        device_id=device_id,
        lane_id=lane_id,
        direction=lane.direction,
        plate=plate,
        plate_color=0,
        vehicle_type=0,
        confidence=None,
        image_key=None,
        device_time=None,
    )
    if inbox.seen(device_id, capture.message_id) is not None:
        return {"result": "duplicate", "plate": plate, "visit_id": None, "due_fen": 0}
    item, recent = identities.lookup(lot_id, plate, limit=3)
    open_visit = recent[0] if recent and recent[0].status == INSIDE else None
    if lane.direction == "in":
        if open_visit is not None:
            raise Conflict(
                "your earlier plateless visit is still open: staff must close it first",
                "plateless_visit_open",
            )
        plates.bind(user_id, plate, now)
        outcome = gate.enter(capture, lot, lane_id, plate, now, user=user_id)
    else:
        if open_visit is None or open_visit.plateless_user != user_id:
            raise NotFound("you have no plateless car in this lot", "no_open_visit")
        outcome = gate.decide_exit(capture, lot, lane_id, open_visit, recent[1:], now, identity=item)
    return {
        "result": outcome.result,
        "plate": plate,
        "visit_id": outcome.visit_id,
        "due_fen": outcome.due_fen,
    }
