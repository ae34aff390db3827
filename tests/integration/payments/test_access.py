"""A driver's quotes and payments are theirs alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalice.test import Client

from chalicelib.parking import devices as handlers
from tests.support.iot import capture, iot_event
from tests.support.tokens import auth


def test_quotes_and_payments_of_another_driver_are_not_found(client: Client) -> None:
    handlers.on_capture(
        iot_event("demo-entry-cam", "capture", capture("demo-entry-cam", "in", "粤B12345")),
        datetime.now(UTC) - timedelta(minutes=40),
    )
    q = client.http.post(
        "/v1/driver/quotes", body=json.dumps({"plate": "粤B12345"}), headers=auth()
    ).json_body
    other = auth("demo-driver-2")
    assert client.http.get(f"/v1/driver/quotes/{q['quote_id']}", headers=other).status_code == 404
    pay = client.http.post(
        "/v1/driver/payments", body=json.dumps({"quote_id": q["quote_id"], "amount_fen": 500}), headers=other
    )
    assert pay.status_code == 404
