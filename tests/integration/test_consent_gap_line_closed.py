"""Closing a line (销户) ends its VAS subscriptions in the consent ledger, as an event of its own.

Line A is active since 2025. Its subscriptions: music, ordered and confirmed in February; video, ordered on 14 March
and still waiting for its confirmation; news, ordered and cancelled in January; weather, ordered on 1 March and never
confirmed (lapsed). Line B, the control, has music too. The register closes A on 15 March (local midnight).

The import appends, in its transaction, a ``cancelled`` event for music and for video at the closing instant, by the
system (source ``system:line_closed``, evidence reason ``line_closed``), nothing for the news or weather
subscriptions nor for B; the same register imported again adds nothing, nor does a closing without a date learnt
again. When the register later opens A again (its activation kept), the music provider's April charge is refused
(``after_cancellation``), ``/me/subscriptions`` lists music as ended by the closing (en and zh), and the subscriber
orders and confirms music again like any new service.

Before: the ledger kept music ``confirmed`` after the closing; on the line opened again the April charge was billed
under it, and a new order was refused as ``already_subscribed``. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from fairtel.api import ApiOptions, create_app, create_user
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.consent import project_subscriptions, states_at
from fairtel.core.settings import load_settings
from fairtel.store import ConsentEvent, consent_ledger, import_consent_events, import_subscribers
from fairtel.store._schema import table_of

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at\n"
ACTIVATED = "2025-01-01T00:00:00+08:00"
CLOSED = datetime(2026, 3, 15, tzinfo=CN)
PASSWORD = "correct-horse-battery"
runner = CliRunner()


def _ok(*args: str) -> str:
    res = runner.invoke(cli, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def _event(event: str, sub: str, msisdn: str, offer: str, at: str) -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at,
                       "channel": "sms", "evidence": f"sms-reply:{sub}"}) + "\n"


def _operator(root: Path) -> Path:
    op = root / "op"
    (op / "consent").mkdir(parents=True)
    (op / "usage").mkdir()
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "subscribers.csv").write_text(HEADER + f"{A},c1,basic-39,{ACTIVATED},active,zh,sh,\n"
                                                 f"{B},c2,basic-39,{ACTIVATED},active,zh,sh,\n", encoding="utf-8")
    (op / "consent" / "e.jsonl").write_text(
        _event("ordered", "a-music", A, "vas-music-10", "2026-02-01T10:00:00+08:00")
        + _event("confirmed", "a-music", A, "vas-music-10", "2026-02-01T10:05:00+08:00")
        + _event("ordered", "a-news", A, "vas-video-15", "2026-01-02T10:00:00+08:00")
        + _event("confirmed", "a-news", A, "vas-video-15", "2026-01-02T10:05:00+08:00")
        + _event("cancelled", "a-news", A, "vas-video-15", "2026-01-20T10:00:00+08:00")
        + _event("ordered", "a-weather", A, "vas-video-15", "2026-03-01T10:00:00+08:00")
        + _event("ordered", "a-video", A, "vas-video-15", "2026-03-14T10:00:00+08:00")
        + _event("ordered", "b-music", B, "vas-music-10", "2026-02-01T10:00:00+08:00")
        + _event("confirmed", "b-music", B, "vas-music-10", "2026-02-01T10:05:00+08:00"),
        encoding="utf-8")
    (op / "usage" / "vas.jsonl").write_text("".join(
        json.dumps({"record_id": r, "source": "spgw", "msisdn": m, "kind": "vas", "started_at": "2026-04-05T10:00:00+08:00",
                    "offer_id": "vas-music-10", "amount": "10.00", "currency": "CNY"}) + "\n"
        for r, m in (("a-music-apr", A), ("b-music-apr", B))), encoding="utf-8")
    return op


def _register(root: Path, home: Path, name: str, a_row: str, *, now: datetime) -> list[str]:
    """Import a register that lists A as ``a_row`` (B unchanged); the import's notes."""
    path = root / name
    path.write_text(HEADER + a_row + f"{B},c2,basic-39,{ACTIVATED},active,zh,sh,\n", encoding="utf-8")
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.begin() as conn:
            report = import_subscribers(conn, path, now=now)
        assert report.rejected == 0, report.problems
        return report.notes
    finally:
        app.close()


def _ledger(home: Path) -> pl.DataFrame:
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.connect() as conn:
            frame = pl.from_arrow(consent_ledger(conn))
            count = conn.scalar(select(func.count()).select_from(table_of(ConsentEvent)))
    finally:
        app.close()
    assert isinstance(frame, pl.DataFrame) and frame.height == count
    return frame


def _closing_events(ledger: pl.DataFrame) -> list[dict[str, Any]]:
    rows = ledger.filter(pl.col("source") == "system:line_closed").sort("subscription_id")
    return [{**r, "evidence": json.loads(r["evidence"])} for r in
            rows.select("subscription_id", "msisdn", "event", "at", "channel", "evidence").iter_rows(named=True)]


def test_closing_a_line_ends_its_subscriptions_and_opening_it_again_needs_a_new_order(
        tmp_path: Path, database: str | None) -> None:
    home = tmp_path / "home"
    _ok("load", str(_operator(tmp_path)), "--home", str(home))
    before = _ledger(home).height

    notes = _register(tmp_path, home, "closed.csv", f"{A},c1,basic-39,{ACTIVATED},closed,zh,sh,{CLOSED.isoformat()}\n",
                      now=datetime(2026, 3, 20, tzinfo=CN))
    ledger = _ledger(home)
    closing = CLOSED.astimezone(UTC)
    assert _closing_events(ledger) == [
        {"subscription_id": s, "msisdn": A, "event": "cancelled", "at": closing, "channel": "store",
         "evidence": {"reason": "line_closed", "by": "system"}}
        for s in ("a-music", "a-video")]
    assert ledger.height == before + 2
    assert any("2 VAS subscription(s) ended" in n for n in notes), notes
    states = dict(states_at(project_subscriptions(ledger), datetime(2026, 3, 21, tzinfo=UTC))
                  .select("subscription_id", "state").iter_rows())
    assert states == {"a-music": "cancelled", "a-video": "cancelled", "a-news": "cancelled", "a-weather": "expired",
                      "b-music": "confirmed"}

    # the same register again: nothing twice
    _register(tmp_path, home, "closed-again.csv", f"{A},c1,basic-39,{ACTIVATED},closed,zh,sh,{CLOSED.isoformat()}\n",
              now=datetime(2026, 3, 25, tzinfo=CN))
    assert _ledger(home).height == before + 2

    # opened again, its activation kept: the music subscription does not come back
    _register(tmp_path, home, "open.csv", f"{A},c1,basic-39,{ACTIVATED},active,zh,sh,\n",
              now=datetime(2026, 4, 1, tzinfo=CN))
    _ok("rate", "--period", "2026-04", "--home", str(home))
    files = [f for f in (home / "lake" / "rated" / "period=2026-04").glob("*.parquet") if not f.name.startswith((".", "_"))]
    rated = pl.read_parquet(files).filter(pl.col("kind") == "vas")
    verdicts = dict(zip(rated["record_id"].to_list(), rated["verdict"].to_list(), strict=True))
    assert verdicts == {"a-music-apr": "after_cancellation", "b-music-apr": "consented"}

    settings = load_settings(home=home)
    app = bootstrap(settings)
    try:
        with app.db.begin() as conn:
            create_user(conn, "a-login", PASSWORD, "subscriber", msisdn=A)
    finally:
        app.close()
    with TestClient(create_app(settings, options=ApiOptions(rate_per_second=0, user_cache_s=0))) as api:
        r = api.post("/api/v1/auth/token", data={"username": "a-login", "password": PASSWORD})
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        listed = {s["subscription_id"]: s for s in api.get("/api/v1/me/subscriptions", headers=headers).json()}
        music = listed["a-music"]
        assert music["state"] == "cancelled" and music["ended_reason"] == "line_closed", music
        assert datetime.fromisoformat(music["ended_at"].replace("Z", "+00:00")) == closing
        assert "line was closed" in music["ended_why"]["en"] and "销户" in music["ended_why"]["zh"], music
        assert listed["a-news"]["ended_reason"] is None  # cancelled by the subscriber, not by the closing
        # a new purchase: ordered, then confirmed with the code sent to the phone
        r = api.post("/api/v1/me/subscriptions", json={"offer_id": "vas-music-10"}, headers=headers)
        assert r.status_code == 201, r.text
        sid = r.json()["subscription_id"]
        assert sid != "a-music" and r.json()["state"] == "ordered"
        texts = [json.loads(x)["text"] for x in (settings.outbox_dir / "messages.jsonl").read_text(encoding="utf-8").splitlines()
                 if x.strip() and json.loads(x)["msisdn"] == A and json.loads(x)["kind"] == "confirm_code"]
        code = re.search(r"(?:验证码|code )(\d{6})", texts[-1])
        assert code is not None, texts
        r = api.post(f"/api/v1/me/subscriptions/{sid}/confirm", json={"code": code.group(1)}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "confirmed"


def test_a_closing_without_a_date_ends_them_once(tmp_path: Path, database: str | None) -> None:
    home = tmp_path / "home"
    _ok("load", str(_operator(tmp_path)), "--home", str(home), "--no-usage")
    learnt = datetime(2026, 3, 20, tzinfo=CN)
    _register(tmp_path, home, "closed.csv", f"{A},c1,basic-39,{ACTIVATED},closed,zh,sh,\n", now=learnt)
    events = _closing_events(_ledger(home))
    # the music subscription ends when the register learnt of the closing; the video order lapsed by then
    assert [(e["subscription_id"], e["at"]) for e in events] == [("a-music", learnt.astimezone(UTC))]
    count = _ledger(home).height
    _register(tmp_path, home, "closed-again.csv", f"{A},c1,basic-39,{ACTIVATED},closed,zh,sh,\n",
              now=datetime(2026, 3, 27, tzinfo=CN))
    assert _ledger(home).height == count


def test_events_a_feed_sends_late_for_a_closed_line_are_ended_by_its_closing(tmp_path: Path, database: str | None) -> None:
    """The register learnt of the closing before the provider's feed sent the line's events: importing them ends
    what they began, at the closing; importing the feed again adds nothing."""
    home = tmp_path / "home"
    op = _operator(tmp_path)
    late = op / "consent" / "e.jsonl"
    (tmp_path / "late.jsonl").write_bytes(late.read_bytes())
    late.unlink()
    _ok("load", str(op), "--home", str(home), "--no-usage")
    _register(tmp_path, home, "closed.csv", f"{A},c1,basic-39,{ACTIVATED},closed,zh,sh,{CLOSED.isoformat()}\n",
              now=datetime(2026, 3, 20, tzinfo=CN))
    assert _ledger(home).height == 0
    app = bootstrap(load_settings(home=home))
    try:
        for _ in range(2):
            with app.db.begin() as conn:
                import_consent_events(conn, tmp_path / "late.jsonl")
    finally:
        app.close()
    ledger = _ledger(home)
    assert [(e["subscription_id"], e["at"]) for e in _closing_events(ledger)] == [
        ("a-music", CLOSED.astimezone(UTC)), ("a-video", CLOSED.astimezone(UTC))]
    assert ledger.height == 9 + 2
