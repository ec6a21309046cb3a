"""The console's files (``GET /static/...``) were counted and logged under the route ``unmatched``, with every 404 of
a mistyped path: an operator's route metrics could not tell the one from the other. A request the static mount
takes is now labelled by the mount's path (``/static``), whatever file it asked for; a path nothing takes stays
``unmatched``. The access log of ``fairtel serve`` labels them alike."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fairtel_seed import Seeded
from fastapi.testclient import TestClient
from test_api_gap_metrics import parse, value

from fairtel.api import ApiOptions
from fairtel.cli._serve import AccessLog
from fairtel.web import create_console

LOCAL = ("127.0.0.1", 50000)


@pytest.fixture()
def served(seeded: Seeded) -> Iterator[tuple[TestClient, io.StringIO]]:
    lines = io.StringIO()
    logger = logging.getLogger("fairtel.test.static_access")
    handler = logging.StreamHandler(lines)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    web = create_console(seeded.settings, options=ApiOptions(rate_per_second=0))
    try:
        with TestClient(AccessLog(web, logger), client=LOCAL) as c:
            yield c, lines
    finally:
        logger.removeHandler(handler)


def test_static_files_are_labelled_by_their_mount_and_unknown_paths_stay_unmatched(
    served: tuple[TestClient, io.StringIO]
) -> None:
    client, lines = served
    assert client.get("/static/console.css").status_code == 200
    assert client.get("/static/console.css").status_code == 200
    assert client.get("/static/no-such-file.css").status_code == 404
    assert client.get("/no/such/page/8613800138000").status_code == 404
    scraped = client.get("/metrics")
    assert scraped.status_code == 200, scraped.text
    _, samples = parse(scraped.text)
    total = "fairtel_http_requests_total"
    assert value(samples, total, method="GET", route="/static", status="2xx") == 2
    assert value(samples, total, method="GET", route="/static", status="4xx") == 1
    assert value(samples, total, method="GET", route="unmatched", status="4xx") == 1
    assert value(samples, total, method="GET", route="unmatched", status="2xx") is None
    assert value(samples, "fairtel_http_request_duration_seconds_count", method="GET", route="/static") == 3
    assert "console.css" not in scraped.text and "8613800138000" not in scraped.text

    logged = [json.loads(line) for line in lines.getvalue().splitlines() if line.strip()]
    routes = [(entry["route"], entry["status"]) for entry in logged if entry["event"] == "request"]
    assert routes[:4] == [("/static", 200), ("/static", 200), ("/static", 404), ("unmatched", 404)], routes
    assert "console.css" not in lines.getvalue() and "8613800138000" not in lines.getvalue()

