"""The access log and the metrics name an OPTIONS request at a console page by the page's route, as they name its
GET (it read "unmatched": the guard answers OPTIONS before the router runs, and named only the API's paths); the
number in a customer's page is never logged. A path no route takes stays "unmatched"."""

from __future__ import annotations

import json
import logging

import pytest
from fairtel_seed import ALICE, Seeded
from fastapi.testclient import TestClient


def test_the_access_log_names_an_options_request_at_a_console_page_by_its_route(seeded: Seeded,
                                                                                caplog: pytest.LogCaptureFixture) -> None:
    from fairtel.api import ApiOptions
    from fairtel.cli._serve import ACCESS_LOGGER, AccessLog
    from fairtel.web import create_console

    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    asked = [("OPTIONS", "/findings", "/findings"),
             ("GET", "/findings", "/findings"),
             ("OPTIONS", f"/customers/{ALICE}", "/customers/{msisdn}"),
             ("OPTIONS", "/my/roaming", "/my/roaming"),
             ("OPTIONS", "/findings/fnd-1/refund", "/findings/{finding_id}/refund"),  # a form's address
             ("OPTIONS", "/no-such-page", "unmatched")]
    with TestClient(AccessLog(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)))) as client:
        caplog.clear()
        for method, path, _ in asked:
            client.request(method, path, follow_redirects=False)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [(x["method"], x["route"]) for x in lines] == [(m, route) for m, _, route in asked], [(x["method"], x["route"]) for x in lines]
    assert [x["status"] for x in lines if x["method"] == "OPTIONS"][:3] == [204, 204, 204]
    assert not any(ALICE in r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER)


def test_an_options_request_at_a_console_page_answers_its_allow(seeded: Seeded) -> None:
    from fairtel.api import ApiOptions
    from fairtel.web import create_console

    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as client:
        r = client.options("/my/roaming")
    assert r.status_code == 204 and r.headers["allow"] == "GET, HEAD, OPTIONS, POST", r.headers
