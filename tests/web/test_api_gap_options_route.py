"""The access log names the route an OPTIONS request's path takes (it was "unmatched": the guard answers OPTIONS
before the router runs), as it names a HEAD's and a GET's; the API's schema, a plain route, is named too. A path
no route takes stays "unmatched"."""

from __future__ import annotations

import json
import logging

import pytest
from fairtel_seed import ALICE, Seeded
from fastapi.testclient import TestClient

B = "/api/v1"


def test_the_access_log_names_the_route_of_options_and_head(seeded: Seeded, caplog: pytest.LogCaptureFixture) -> None:
    from fairtel.api import ApiOptions
    from fairtel.cli._serve import ACCESS_LOGGER, AccessLog
    from fairtel.web import create_console

    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    asked = [("OPTIONS", f"{B}/me/roaming-cap", 204, f"{B}/me/roaming-cap"),
             ("OPTIONS", f"{B}/subscribers/{ALICE}/bills", 204, f"{B}/subscribers/{{msisdn}}/bills"),
             ("OPTIONS", f"{B}/auth/token", 204, f"{B}/auth/token"),
             ("HEAD", f"{B}/health", 200, f"{B}/health"),
             ("GET", f"{B}/openapi.json", 200, f"{B}/openapi.json"),
             ("OPTIONS", f"{B}/no-such-place", 404, "unmatched")]
    with TestClient(AccessLog(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)))) as client:
        caplog.clear()
        for method, path, status, _ in asked:
            assert client.request(method, path).status_code == status, (method, path)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [(m, route, s) for m, _, s, route in asked]
    assert not any(ALICE in r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER)


def test_the_metrics_count_an_options_request_by_its_route(seeded: Seeded) -> None:
    from fairtel.api import ApiOptions, create_app
    from fairtel.api._metrics import MetricsAccess

    api = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), metrics=MetricsAccess())
    with TestClient(api, client=("127.0.0.1", 50000)) as client:
        assert client.options(f"{B}/me/roaming-cap").status_code == 204
        text = client.get("/metrics").text
    assert any(line.startswith("fairtel_http_requests_total{") and 'method="OPTIONS"' in line
               and f'route="{B}/me/roaming-cap"' in line for line in text.splitlines()), text[:2000]
