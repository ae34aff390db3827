"""The sweeper's timeout metrics, as CloudWatch reads them (EMF on stdout): a count per site and
the worst site's count, which the site-wide alarm in the stack watches."""

from __future__ import annotations

import json

import pytest


def test_the_sweeper_publishes_timeouts_per_site_and_the_worst_site(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.platform import blueprint

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    blueprint.publish_timeouts({"lot-1": 3, "station-9": 7})
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    per_site = {b["site"]: b["CommandTimeouts"] for b in blobs if "CommandTimeouts" in b}
    assert per_site == {"lot-1": [3.0], "station-9": [7.0]}
    [worst] = [b for b in blobs if "CommandTimeoutsWorstSite" in b]
    assert worst["CommandTimeoutsWorstSite"] == [7.0] and worst["service"] == "parkcharge"
    assert "site" not in worst  # one series: one alarm for the whole stack
