"""``GET /metrics``: what a Prometheus server scrapes, in its text format (version 0.0.4).

Counted in this process since it started: requests by method, route template (``/api/v1/bills/{period}``, never
the path a caller typed, which may hold a number) and status class, and their latency as a histogram. Read when
scraped: whether the database answers (the health check's ``SELECT 1``), and a few counts of the product's work
kept for ``PRODUCT_TTL_S`` (complaints by lifecycle, trouble tickets and fraud cases by status, the size of the
SMS outbox): counts only, never a number, a name or an id.

Who may read it (``MetricsAccess``): with the ``metrics_token`` setting (``FAIRTEL_METRICS_TOKEN``, or
``metrics_token`` in fairtel.toml) set, whoever sends it as
``Authorization: Bearer <token>``; without it, only a client on this machine (loopback) whose request came through
no proxy. A monitor scrapes without a login, so the API's users and roles do not apply.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fairtel.api._errors import NotAuthenticatedError
from fairtel.core.errors import ConfigError, FairtelError, PermissionDeniedError
from fairtel.store._schema import COMPLAINT_LIFECYCLE, FRAUD_CASE_STATUSES, TICKET_STATUSES

if TYPE_CHECKING:
    from fairtel.api._services import Services
    from fairtel.core.settings import Settings

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TOKEN_ENV = "FAIRTEL_METRICS_TOKEN"
MIN_TOKEN_CHARS = 16  # as ``fairtel.core.settings.MIN_METRICS_TOKEN``
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PRODUCT_TTL_S = 15.0  # the product counts are read again at most this often, however often the monitor scrapes
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route of a request no route took (a 404, a refusal before routing): one label for all


def route_label(scope: Scope) -> str:
    """The route a request is counted and logged under, once the application has answered it: the template of the
    route that took it (``/api/v1/bills/{period}``); for one a mounted application took (the console's files under
    ``/static``), the mount's path (``/static``), whatever file was asked for or found; ``UNMATCHED`` when none did.
    Never the path as typed, which may hold a number."""
    route = getattr(scope.get("route"), "path", None)
    if isinstance(route, str) and route:
        return route
    endpoint = scope.get("endpoint")  # a mount that took the request leaves its application here, and no route
    if endpoint is not None:
        from starlette.routing import Mount

        router = scope.get("router")
        for candidate in getattr(router, "routes", ()) if router is not None else ():
            if isinstance(candidate, Mount) and candidate.app is endpoint and candidate.path:
                return candidate.path
    return UNMATCHED


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(frozen=True)
class MetricsAccess:
    """Who may read ``/metrics``: with a ``token``, whoever sends it (``Authorization: Bearer``); without one, only a
    request from a loopback address carrying no ``Forwarded`` or ``X-Forwarded-For`` header (one a reverse proxy on
    this machine passed on came from elsewhere)."""

    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) < MIN_TOKEN_CHARS:
            raise ConfigError(f"{TOKEN_ENV}: a metrics token needs at least {MIN_TOKEN_CHARS} characters "
                              f"(it has {len(self.token)}); make one with `openssl rand -hex 32`")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> MetricsAccess:
        token = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
        return cls(token=token or None)

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> MetricsAccess:
        """The settings' ``metrics_token`` (``FAIRTEL_METRICS_TOKEN`` or ``metrics_token`` in fairtel.toml, read as
        every setting is); when they hold none, ``FAIRTEL_METRICS_TOKEN`` as the environment has it now (set after
        the settings were read)."""
        token = getattr(settings, "metrics_token", None)
        if token is not None and token.get_secret_value():
            return cls(token=token.get_secret_value())
        return cls.from_environment(environ)

    def check(self, client: str | None, headers: Mapping[str, str]) -> None:
        """Raise ``NotAuthenticatedError`` (a token wanted, or a wrong one) or ``PermissionDeniedError`` (not from this
        machine) unless this request may read the metrics."""
        if self.token is not None:
            given = headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(value.strip().encode(), self.token.encode()):
                raise NotAuthenticatedError("metrics: send the metrics token as Authorization: Bearer <token>")
            return
        if client is None or not _is_loopback(client) or "forwarded" in headers or "x-forwarded-for" in headers:
            raise PermissionDeniedError(f"metrics are served only to this machine unless {TOKEN_ENV} is set "
                                        "(then to whoever sends it as a bearer token)")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}" if pairs else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Metrics:
    """The request counters and latency histogram of this process (a server with several workers has one each)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        # per (method, route): a count per bucket (not cumulative), then the sum of seconds and the count
        self._latency: dict[tuple[str, str], list[float]] = {}
        self.started = time.time()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        status_class = f"{status // 100}xx" if 100 <= status < 600 else "other"
        with self._lock:
            key = (method, route, status_class)
            self._requests[key] = self._requests.get(key, 0) + 1
            slots = self._latency.setdefault((method, route), [0.0] * (len(BUCKETS_S) + 3))
            for i, bound in enumerate(BUCKETS_S):
                if seconds <= bound:
                    slots[i] += 1
                    break
            else:
                slots[len(BUCKETS_S)] += 1  # +Inf only
            slots[-2] += seconds
            slots[-1] += 1

    def request_lines(self) -> list[str]:
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted((k, list(v)) for k, v in self._latency.items())
        lines = ["# HELP fairtel_http_requests_total Requests answered, by method, route template and status class.",
                 "# TYPE fairtel_http_requests_total counter"]
        lines += [f"fairtel_http_requests_total{_labels({'method': m, 'route': r, 'status': s})} {n}"
                  for (m, r, s), n in requests]
        lines += ["# HELP fairtel_http_request_duration_seconds Time from a request's arrival to its answer's end.",
                  "# TYPE fairtel_http_request_duration_seconds histogram"]
        for (method, route), slots in latency:
            base = {"method": method, "route": route}
            running = 0.0
            for bound, count in zip((*BUCKETS_S, float("inf")), slots[: len(BUCKETS_S) + 1], strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f"fairtel_http_request_duration_seconds_bucket{_labels({**base, 'le': le})} {_number(running)}")
            lines.append(f"fairtel_http_request_duration_seconds_sum{_labels(base)} {slots[-2]!r}")
            lines.append(f"fairtel_http_request_duration_seconds_count{_labels(base)} {_number(slots[-1])}")
        return lines


class CountRequests:
    """Pure ASGI, outermost: every request is counted, a refused one (rate limit, body too large) included, under
    the template of the route that took it (``route_label``: a mount's path for its files, ``UNMATCHED`` when none
    did)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the client is answered when the application fails before it answers

        async def note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, note_status)
        finally:
            self.metrics.observe(scope.get("method", "GET"), route_label(scope), status, time.perf_counter() - began)


@dataclass
class _Counts:
    lines: list[str]
    read_at: float


class ProductCounts:
    """The product's counts, read at most every ``PRODUCT_TTL_S`` (a scrape in between is answered the last read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: _Counts | None = None

    def lines(self, services: Services) -> list[str]:
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last.read_at < PRODUCT_TTL_S:
                return self._last.lines
            lines = _read_counts(services)
            self._last = _Counts(lines, now)
            return lines


# each gauge with every value its column may hold: a status with nothing in it is a sample of 0, not missing (an alert
# on "open fraud cases > 0" must see 0, not no data)
_GROUPED = (
    ("fairtel_complaints", "Complaints, by lifecycle status.", "lifecycle", "complaints", COMPLAINT_LIFECYCLE),
    ("fairtel_trouble_tickets", "Trouble tickets, by status.", "status", "trouble_tickets", TICKET_STATUSES),
    ("fairtel_fraud_cases", "Fraud cases, by status (open: awaiting an analyst's decision).", "status", "fraud_cases",
     FRAUD_CASE_STATUSES),
)


def _read_counts(services: Services) -> list[str]:
    from sqlalchemy import text

    lines: list[str] = []
    with services.app.db.connect() as conn:
        for name, about, column, table, known in _GROUPED:
            rows = conn.execute(text(f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column} ORDER BY {column}")).all()
            counts = dict.fromkeys(known, 0) | {str(value): int(count) for value, count in rows}
            lines += [f"# HELP {name} {about}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels({column: value})} {count}" for value, count in sorted(counts.items())]
    outbox = services.settings.outbox_dir / "messages.jsonl"
    try:
        size = outbox.stat().st_size
    except FileNotFoundError:
        size = 0
    lines += ["# HELP fairtel_outbox_bytes Size of the SMS outbox file (messages.jsonl) awaiting the delivery adapter.",
              "# TYPE fairtel_outbox_bytes gauge", f"fairtel_outbox_bytes {size}"]
    return lines


def exposition(services: Services, metrics: Metrics, counts: ProductCounts) -> str:
    """The whole text a scrape is answered: the database's state is asked now (bounded by the health check's
    timeout); the product counts only while it answers."""
    from fairtel import __version__
    from fairtel.api._health import check_app_database

    began = time.perf_counter()
    try:
        check_app_database(services.app)
        up = True
    except FairtelError:
        up = False
    except Exception as exc:  # a database error not known as an outage: still not up, and said in the log
        from fairtel.api._health import log

        log.warning("metrics: the database check failed: %s", type(exc).__name__)
        up = False
    checked = time.perf_counter() - began
    lines = [
        "# HELP fairtel_info The fairtel version serving.", "# TYPE fairtel_info gauge",
        f"fairtel_info{_labels({'version': __version__})} 1",
        "# HELP fairtel_process_start_time_seconds When this server process started (Unix time).",
        "# TYPE fairtel_process_start_time_seconds gauge", f"fairtel_process_start_time_seconds {metrics.started:.3f}",
        "# HELP fairtel_database_up Whether the database answered the health check (1) or not (0).",
        "# TYPE fairtel_database_up gauge", f"fairtel_database_up {int(up)}",
        "# HELP fairtel_database_check_seconds How long the health check of this scrape took.",
        "# TYPE fairtel_database_check_seconds gauge", f"fairtel_database_check_seconds {checked:.6f}",
        *metrics.request_lines(),
    ]
    if up:
        try:
            lines += counts.lines(services)
        except Exception as exc:  # the counts are a convenience: the rest is answered without them
            from fairtel.api._health import log

            log.warning("metrics: the product counts could not be read: %s", type(exc).__name__)
    return "\n".join(lines) + "\n"
