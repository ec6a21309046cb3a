"""``GET /metrics``: the Prometheus text format (version 0.0.4) a monitor scrapes without a login: requests by
method, route template and status class, their latency as a histogram, whether the database answers, and counts
of the product's work (never a number or a name). Read only from this machine, or with the metrics token."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from fairtel_seed import ALICE, BOB, CAROL, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import text

from fairtel.api import ApiOptions, create_app
from fairtel.api._metrics import BUCKETS_S, MetricsAccess
from fairtel.core.errors import ConfigError
from fairtel.store import connect

LOCAL = ("127.0.0.1", 50000)
TOKEN = "metrics-token-0123456789abcdef"

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(body: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """The exposition's ``# TYPE`` lines and samples; any other line fails the test."""
    types: dict[str, str] = {}
    samples: list[tuple[str, dict[str, str], float]] = []
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in {"counter", "gauge", "histogram"}, line
            types[name] = kind
        elif line.startswith("# HELP ") or not line:
            continue
        else:
            match = _SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            labels = dict(_LABEL.findall(match.group(2) or ""))
            samples.append((match.group(1), labels, float(match.group(3))))
    for name, _, _ in samples:  # every sample belongs to a declared family
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, name
    return types, samples


def value(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float | None:
    found = [v for n, ls, v in samples if n == name and all(ls.get(k) == w for k, w in labels.items())]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


@pytest.fixture()
def local(seeded: Seeded) -> Iterator[TestClient]:
    api = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), metrics=MetricsAccess())
    with TestClient(api, client=LOCAL, raise_server_exceptions=False) as c:
        yield c


def test_metrics_count_requests_by_route_template_and_read_the_database(local: TestClient, seeded: Seeded) -> None:
    token = local.post("/api/v1/auth/token", data={"username": "alice", "password": "correct-horse-battery"}).json()["access_token"]
    for _ in range(3):
        assert local.get("/api/v1/health").status_code == 200
    assert local.get("/api/v1/no/such/path").status_code == 404
    got = local.get("/api/v1/me/bills/2026-10", headers=auth(token))  # the period in the path, not in the label
    assert got.status_code in (200, 404), got.text

    answer = local.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    types, samples = parse(answer.text)
    assert types["fairtel_http_requests_total"] == "counter"
    assert types["fairtel_http_request_duration_seconds"] == "histogram"

    assert value(samples, "fairtel_http_requests_total", method="GET", route="/api/v1/health", status="2xx") == 3
    assert value(samples, "fairtel_http_requests_total", method="POST", route="/api/v1/auth/token", status="2xx") == 1
    assert value(samples, "fairtel_http_requests_total", method="GET", route="unmatched", status="4xx") == 1
    routes = {ls["route"] for n, ls, _ in samples if n == "fairtel_http_requests_total"}
    assert "/api/v1/me/bills/{period}" in routes, routes
    assert not any("2026-10" in r for r in routes), routes

    # the histogram: cumulative buckets ending in +Inf, which equals the count
    health = {"method": "GET", "route": "/api/v1/health"}
    buckets = [(ls["le"], v) for n, ls, v in samples if n == "fairtel_http_request_duration_seconds_bucket"
               and ls["route"] == health["route"] and ls["method"] == "GET"]
    assert [le for le, _ in buckets] == [*(repr(b) for b in BUCKETS_S), "+Inf"]
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and counts[-1] == 3
    assert value(samples, "fairtel_http_request_duration_seconds_count", **health) == 3
    assert 0 < (value(samples, "fairtel_http_request_duration_seconds_sum", **health) or 0) < 30

    assert value(samples, "fairtel_database_up") == 1
    with seeded.engine.connect() as conn:
        by_status = dict(conn.execute(text("SELECT status, COUNT(*) FROM fraud_cases GROUP BY status")).all())
        by_lifecycle = dict(conn.execute(text("SELECT lifecycle, COUNT(*) FROM complaints GROUP BY lifecycle")).all())
    for status, n in by_status.items():
        assert value(samples, "fairtel_fraud_cases", status=status) == n
    for lifecycle, n in by_lifecycle.items():
        assert value(samples, "fairtel_complaints", lifecycle=lifecycle) == n
    # a status nothing is in is a sample of 0, not missing (an alert rule must see 0, not no data)
    for status in ("open", "confirmed", "false_alarm"):
        assert value(samples, "fairtel_fraud_cases", status=status) == by_status.get(status, 0)
    for lifecycle in ("opened", "acknowledged", "resolved", "closed", "reopened"):
        assert value(samples, "fairtel_complaints", lifecycle=lifecycle) == by_lifecycle.get(lifecycle, 0)
    assert value(samples, "fairtel_trouble_tickets", status="in_progress") is not None
    assert value(samples, "fairtel_outbox_bytes") is not None
    for number in (ALICE, BOB, CAROL, ALICE[-4:] + "\"", "alice"):
        assert number not in answer.text

    # the scrape itself is counted in the next one
    again = parse(local.get("/metrics").text)[1]
    assert value(again, "fairtel_http_requests_total", method="GET", route="/metrics", status="2xx") == 1


def test_metrics_report_the_database_down_and_still_answer(local: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    dead = connect(f"postgresql+psycopg://fairtel:pw-Never-Shown-42@127.0.0.1:{port}/billing", connect_args={"connect_timeout": 2})
    services = local.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setitem(services.app.__dict__, "db", dead)
    answer = local.get("/metrics")
    assert answer.status_code == 200, answer.text
    _, samples = parse(answer.text)
    assert value(samples, "fairtel_database_up") == 0
    assert not [n for n, _, _ in samples if n in ("fairtel_complaints", "fairtel_fraud_cases")]  # not read: no database
    assert "pw-Never-Shown-42" not in answer.text
    dead.dispose()


def test_metrics_without_a_token_are_only_for_this_machine(seeded: Seeded) -> None:
    api = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), metrics=MetricsAccess())
    with TestClient(api, client=("203.0.113.9", 40000)) as remote:
        refused = remote.get("/metrics")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied", refused.text
        assert "FAIRTEL_METRICS_TOKEN" in refused.json()["error"]["message"]
    with TestClient(api, client=LOCAL) as local:
        assert local.get("/metrics").status_code == 200
        # a reverse proxy on this machine passed on someone else's request
        assert local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
        assert local.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 403


def test_metrics_with_a_token_are_for_whoever_sends_it(seeded: Seeded) -> None:
    api = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), metrics=MetricsAccess(token=TOKEN))
    with TestClient(api, client=("203.0.113.9", 40000)) as remote:
        assert remote.get("/metrics").status_code == 401
        assert remote.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789abcdef"}).status_code == 401
        ok = remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and "fairtel_database_up 1" in ok.text
    with TestClient(api, client=LOCAL) as local:  # this machine needs it too, once one is set
        assert local.get("/metrics").status_code == 401


def test_the_metrics_token_comes_from_the_environment_and_must_be_long(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_METRICS_TOKEN", TOKEN)
    api = create_app(seeded.settings, options=ApiOptions(rate_per_second=0))
    with TestClient(api, client=LOCAL) as local:
        assert local.get("/metrics").status_code == 401
        assert local.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    monkeypatch.setenv("FAIRTEL_METRICS_TOKEN", "short")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        create_app(seeded.settings, options=ApiOptions(rate_per_second=0))


def test_metrics_are_not_in_the_api_schema(local: TestClient) -> None:
    assert "/metrics" not in local.get("/api/v1/openapi.json").json()["paths"]
