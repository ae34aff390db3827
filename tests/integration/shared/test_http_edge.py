"""The HTTP edge: a throttled dependency is 503 with Retry-After, whatever the route; Chalice's
own refusals carry a `code`. (API Gateway's answers for unknown routes are gateway responses in
the stack, tests/infra/test_stack_safety.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from pynamodb.connection.base import Connection

from tests.support.tokens import auth, staff


@pytest.fixture
def throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Connection._make_api_call

    def call(conn: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        if operation_name in ("Query", "GetItem"):
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                operation_name,
            )
        return real(conn, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", call)


def test_a_throttled_table_answers_503_with_retry_after(client: Client, throttled: None) -> None:
    for path, headers in (("/v1/driver/plates", auth()), ("/v1/ops/lots/demo-lot", staff())):
        answer = client.http.get(path, headers=headers)
        assert answer.status_code == 503, (path, answer.body)
        assert answer.headers["Retry-After"] == "1" and answer.json_body["code"] == "unavailable"
        assert "Traceback" not in answer.body.decode()


def test_chalices_own_refusals_carry_a_code(client: Client) -> None:
    wrong_method = client.http.request("DELETE", "/v1/health")
    assert wrong_method.status_code == 405 and wrong_method.json_body["code"] == "method_not_allowed"
    wrong_type = client.http.post("/v1/driver/plates", body=b"x", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and wrong_type.json_body["code"] == "unsupported_media_type"
