"""The sandbox payment callback: a signed body nested thousands deep, with a lone surrogate, an
overflowing or float amount, is a 400 `invalid_notification`, not a crash; unsigned is 401."""

from __future__ import annotations

import pytest
from chalice.test import Client

from chalicelib.payments import sandbox
from tests.conftest import KEYS

CALLBACK = "/v1/callbacks/payments/sandbox"


def _note(out_trade_no: str = '"p"', amount: str = "1") -> str:
    return (
        '{"out_trade_no": ' + out_trade_no + ', "transaction_id": "t", "amount_fen": ' + amount + ","
        ' "trade_state": "SUCCESS"}'
    )


BODIES = {
    "deep": '{"out_trade_no": "p", "x": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}",
    "deep list": "[" * 100_000 + "]" * 100_000,
    "surrogate": _note(out_trade_no='"\\udc80"'),
    "float amount": _note(amount="1.0"),
    "bool amount": _note(amount="true"),
    "1e400": _note(amount="1e400"),
    "huge": _note(amount="9" * 5000),
    "nul": _note(out_trade_no='"p\\u0000"'),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_signed_garbage_is_400(client: Client, name: str) -> None:
    body = BODIES[name]
    headers = {**sandbox.sign(KEYS.pay_private.read_bytes(), body), "Content-Type": "application/json"}
    response = client.http.post(CALLBACK, body=body, headers=headers)
    assert response.status_code == 400 and response.json_body["code"] == "invalid_notification", response.body


def test_unsigned_garbage_is_401(client: Client) -> None:
    response = client.http.post(CALLBACK, body=BODIES["deep"], headers={"Content-Type": "application/json"})
    assert response.status_code == 401 and response.json_body["code"] == "bad_signature"
