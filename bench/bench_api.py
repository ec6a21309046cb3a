"""API load test on loopback: requests per second and p99 latency of the bill and itemised-lines endpoints,
against PostgreSQL, with a subscriber's bearer token (so every request checks the token, reads the bill, and
has its access-audit row committed before it answers: issued bills are immutable and served from a per-process
cache, the audit rows of concurrent requests share one commit). The machine is shared: each figure is printed
with the load average at the time.

    python bench/bench_api.py                           # 5,000 subscribers, 2 server workers, 15 s per endpoint
    python bench/bench_api.py --workers 1 --seconds 30 --connections 64

Needs PostgreSQL (FAIRTEL_BENCH_POSTGRES, default the local server; a database `fairtel_bench` is made
afresh) and `wrk` (apt-get install wrk); without wrk a Python load generator is used, which itself needs
a core, so its figures understate the server.

    python bench/bench_api.py --list-pages 100000,300000   # time per page of the subscriber list

``--list-pages`` needs neither: it builds a SQLite home of each size (the register imported as an operator
would), then times, in process: keying the lines (as ``fairtel load`` does after an import), and pages of the
analysts' subscriber list (its keyed order, keyset cursor, each audited): the first, those after it, and
filtered pages.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from fairtel.api import create_user
from fairtel.api._access import Access, Pseudonyms
from fairtel.api._customers import keep_sort_keys, list_order, list_subscribers
from fairtel.api._paging import Page
from fairtel.api._security import Principal
from fairtel.privacy import Role
from fairtel.store import Bill, BillLine, connect, import_subscribers, migrate
from fairtel.store._schema import table_of

ADMIN_DSN = os.environ.get("FAIRTEL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
DB = "fairtel_bench"
PASSWORD = "bench-password-123"
PERIOD = "2026-10"


def fresh_database() -> str:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{DB}"


def seed(url: str, home: Path, subscribers: int) -> list[tuple[str, str]]:
    engine = migrate(connect(url))
    csv = home / "subscribers.csv"
    numbers = [f"86138{i:08d}" for i in range(subscribers)]
    csv.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n" + "".join(
        f"{m},c{i},basic-39,2025-01-01T00:00:00+08:00,active,zh,Shanghai\n" for i, m in enumerate(numbers)
    ))
    now = datetime(2026, 11, 2, tzinfo=UTC)
    with engine.begin() as conn:
        import_subscribers(conn, csv)
        bills, lines = [], []
        for i, m in enumerate(numbers):
            bid = f"bill-{i}"
            bills.append({"bill_id": bid, "msisdn": m, "period": PERIOD, "issued_at": now, "catalog_version_id": None, "currency": "CNY",
                          "subtotal_minor": 5400, "tax_minor": 0, "total_minor": 5400})
            lines += [{"bill_id": bid, "line_no": n, "kind": "voice", "description": f"line {n}", "rule_id": "basic-39:voice", "quantity": 60,
                       "unit": "second", "amount_minor": 450, "currency": "CNY"} for n in range(1, 13)]
        conn.execute(table_of(Bill).insert(), bills)
        conn.execute(table_of(BillLine).insert(), lines)
        create_user(conn, "bench-sub", PASSWORD, "subscriber", msisdn=numbers[0])
    engine.dispose()
    return [(numbers[0], "bill-0")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, token: str, seconds: int, connections: int, threads: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"), "errors": float(non2xx.group(1)) if non2xx else 0.0,
            "requests": float(total.group(1)) if total else 0.0}


async def pyload(url: str, token: str, seconds: int, connections: int) -> dict[str, float]:
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, limits=httpx.Limits(max_connections=connections)) as c:
        async def one() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = await c.get(url)
                lat.append((time.perf_counter() - t) * 1000)
                errors += r.status_code != 200
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(connections)))
        took = time.perf_counter() - t0
    lat.sort()
    return {"rps": len(lat) / took, "p50_ms": statistics.median(lat), "p99_ms": lat[int(len(lat) * 0.99)], "errors": float(errors),
            "requests": float(len(lat))}


def list_page(engine: Any, pseudonyms: Pseudonyms, **query: Any) -> tuple[float, Page[Any]]:
    """One page of the subscriber list as an analyst asks for it, and its time (audit rows committed)."""
    acc = Access(principal=Principal("bench-analyst", Role.ANALYST), pseudonyms=pseudonyms, begin=engine.begin)
    t = time.perf_counter()
    try:
        page = list_subscribers(acc, **query)
    except BaseException as exc:
        acc.end(exc)
        raise
    acc.end()
    return time.perf_counter() - t, page


def list_pages(sizes: list[int], pages: int = 9) -> None:
    """Time per page of the subscriber list on SQLite homes of ``sizes`` lines."""
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for n in sizes:
        home = Path(tempfile.mkdtemp(prefix="fairtel-bench-list-"))
        try:
            engine = migrate(connect(f"sqlite:///{home / 'fairtel.db'}"))
            csv = home / "subscribers.csv"
            csv.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n" + "".join(
                f"86138{i:08d},c{i},{'basic-39' if i % 3 == 0 else 'payg'},2025-01-01T00:00:00+08:00,"
                f"{'closed' if i % 20 == 0 else 'active'},zh,Shanghai\n" for i in range(n)))
            t0 = time.perf_counter()
            with engine.begin() as conn:
                import_subscribers(conn, csv)
            built = time.perf_counter() - t0
            pseudonyms = Pseudonyms("bench-secret-0123456789abcdef")
            t0 = time.perf_counter()
            with engine.begin() as conn:  # as `fairtel load` does after an import, and the server when it starts
                keep_sort_keys(conn, list_order(pseudonyms))
            keyed = time.perf_counter() - t0
            first, page = list_page(engine, pseudonyms, limit=50)
            took = []
            for _ in range(pages):
                dt, page = list_page(engine, pseudonyms, limit=50, cursor=page.next_cursor)
                took.append(dt * 1000)
            closed, _ = list_page(engine, pseudonyms, limit=50, status="closed")
            plan, _ = list_page(engine, pseudonyms, limit=50, plan_id="basic-39")
            print(f"{n:>9,} subscribers (imported in {built:.1f} s, keyed in {keyed:.1f} s): "
                  f"first list {first * 1000:7.0f} ms; "
                  f"next {pages} pages of 50: median {statistics.median(took):6.1f} ms (max {max(took):6.1f}); "
                  f"status=closed {closed * 1000:6.1f} ms; plan_id {plan * 1000:6.1f} ms", flush=True)
            engine.dispose()
        finally:
            shutil.rmtree(home, ignore_errors=True)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--list-pages", metavar="N[,N...]",
                    help="time pages of the subscriber list on SQLite homes of these sizes, and stop")
    args = ap.parse_args()
    if args.list_pages:
        list_pages([int(n) for n in args.list_pages.replace("_", "").split(",")])
        return 0
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    home = Path(tempfile.mkdtemp(prefix="fairtel-bench-api-"))
    url = fresh_database()
    t0 = time.perf_counter()
    _msisdn, bill_id = seed(url, home, args.subscribers)[0]
    print(f"seeded {args.subscribers} subscribers with 12-line bills in {time.perf_counter() - t0:.1f} s")
    port = free_port()
    env = {**os.environ, "FAIRTEL_DATABASE_URL": url, "FAIRTEL_SECRET_KEY": "bench-secret-0123456789abcdef", "FAIRTEL_ENVIRONMENT": "test",
           "FAIRTEL_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "fairtel"), "--home", str(home), "serve", "--port", str(port), "--rate-limit", "0", "--workers", str(args.workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if server.poll() is not None:
                raise SystemExit(f"the server stopped: {server.stderr.read().decode() if server.stderr else ''}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "bench-sub", "password": PASSWORD}).json()["access_token"]
        generator = "wrk" if shutil.which("wrk") else "python"
        print(f"server: {args.workers} worker(s), PostgreSQL; load: {generator}, {args.connections} connections, {args.seconds} s each; cores: {os.cpu_count()}")
        served = 0
        for name, path in (("bill", f"/api/v1/me/bills/{PERIOD}"), ("lines", f"/api/v1/bills/{bill_id}/lines")):
            assert httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
            if generator == "wrk":
                r = wrk(base + path, token, args.seconds, args.connections, threads=2)
            else:
                r = asyncio.run(pyload(base + path, token, args.seconds, args.connections))
            served += int(r["requests"]) + 1
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"{name:6s} {path:32s} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:6.1f} ms   p99 {r['p99_ms']:6.1f} ms   errors {int(r['errors'])}"
                  f"   (load average after: {load})")
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            audited = conn.execute("select count(*) from access_audit").fetchone()
        # every answered read of a bill left its audit row (the login and the health checks leave none)
        print(f"access-audit rows written: {audited[0] if audited else 0} for {served} bill reads counted (wrk does not count those in flight when it stops)")
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
