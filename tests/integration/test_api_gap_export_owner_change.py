"""A subscriber's data export after an owner change (过户: the register's ``holder_since``) holds only their own holding.

Line A is customer c1's since 2025 (c1 subscribed to music and video in February); from 10 March 2026 it is customer
c9's, its activation kept (c9 subscribed to video on 12 March). After the change c1's music subscription is cancelled
(15 March). Findings about the line, all detected after the change: a charge of 5 March (c1's, before the change), a
charge of 11 March made under c1's music subscription (refused ``previous_holder``: on c9's line, in c9's holding), a
machine-speed confirmation of c1's video subscription (February), and a duplicate charge of 13 March under c9's own
video subscription.

c9's export lists the charge of 11 March without c1's subscription id, and their own with theirs; neither the finding
about the charge of 5 March nor the one about c1's confirmation, nor c1's cancellation in the consent events: no
``c1-music`` or ``c1-video`` anywhere. An agent's export (the line's whole record) keeps them all.

Before: the export listed every finding detected after the change, with its subscription id, and every consent event
dated after it. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from test_consent_gap_owner_change_home import A, _change_owner, _event, _ok, _operator

from fairtel.api import ApiOptions, create_app, create_user
from fairtel.bootstrap import bootstrap
from fairtel.core.settings import load_settings
from fairtel.store import AgentAssignment, import_consent_events
from fairtel.store._schema import Finding, table_of

CN = timezone(timedelta(hours=8))
PASSWORD = "correct-horse-battery"
DETECTED = datetime(2026, 3, 25, tzinfo=CN)


def _finding(fid: str, kind: str, sub: str | None, record: str | None, evidence: dict[str, Any]) -> dict[str, Any]:
    return {"finding_id": fid, "kind": kind, "msisdn": A, "subscription_id": sub, "record_ids": [record] if record else [],
            "amount_minor": 1000 if record else None, "currency": "CNY" if record else None, "status": "open",
            "evidence": evidence, "detected_at": DETECTED, "resolved_at": None, "resolved_by": None, "resolution": None}


FINDINGS = [
    _finding("fnd-before", "unconsented_charge", None, "x-mar05",
             {"verdict": "no_subscription", "started_at": "2026-03-05T02:00:00+00:00", "period": "2026-03"}),
    _finding("fnd-previous", "unconsented_charge", "c1-music", "music-mar11",
             {"verdict": "previous_holder", "started_at": "2026-03-11T02:00:00+00:00", "period": "2026-03",
              "billed_under_subscription": "c1-music"}),
    _finding("fnd-confirmation", "machine_speed_confirmation", "c1-video", None,
             {"offer_id": "vas-video-15", "ordered_at": "2026-02-01T02:00:00+00:00",
              "confirmed_at": "2026-02-01T02:00:01+00:00"}),
    _finding("fnd-own", "duplicate_charge", "c9-video", "video-mar13",
             {"verdict": "duplicate_charge", "started_at": "2026-03-13T02:00:00+00:00", "period": "2026-03"}),
]


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    _ok("load", str(_operator(tmp_path, usage=False)), "--home", str(home), "--no-usage")
    _change_owner(tmp_path, home)
    cancelled = tmp_path / "cancelled.jsonl"
    cancelled.write_text(_event("cancelled", "c1-music", A, "vas-music-10", "2026-03-15T10:00:00+08:00"), encoding="utf-8")
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.begin() as conn:
            assert import_consent_events(conn, cancelled).accepted == 1
            conn.execute(table_of(Finding).insert(), FINDINGS)
            create_user(conn, "c9-login", PASSWORD, "subscriber", msisdn=A)
            create_user(conn, "agent-1", PASSWORD, "agent")
    finally:
        app.close()
    return home


def _export(api: TestClient, user: str, path: str) -> dict[str, Any]:
    r = api.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    r = api.get(path, headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_the_new_customer_s_export_holds_their_holding_only(tmp_path: Path, database: str | None) -> None:
    home = _home(tmp_path)
    with TestClient(create_app(load_settings(home=home), options=ApiOptions(rate_per_second=0, user_cache_s=0))) as api:
        mine = _export(api, "c9-login", "/api/v1/me/data-export")
        findings = {f["finding_id"]: f for f in mine["findings"]}
        assert sorted(findings) == ["fnd-own", "fnd-previous"]
        assert findings["fnd-previous"]["subscription_id"] is None
        assert findings["fnd-previous"]["evidence"]["verdict"] == "previous_holder"
        assert "billed_under_subscription" not in findings["fnd-previous"]["evidence"]
        assert findings["fnd-own"]["subscription_id"] == "c9-video"
        assert {e["subscription_id"] for e in mine["consent_events"]} == {"c9-video"}
        assert [s["subscription_id"] for s in mine["subscriptions"]] == ["c9-video"]
        text = json.dumps(mine, ensure_ascii=False)
        assert "c1-music" not in text and "c1-video" not in text and "x-mar05" not in text

        # an agent handling the line exports its whole record
        app = bootstrap(load_settings(home=home))
        now = datetime.now(UTC)
        try:
            with app.db.begin() as conn:
                conn.execute(table_of(AgentAssignment).insert().values(
                    assignment_id="asg-1", agent="agent-1", msisdn=A, reference_kind="chat", reference_id="chat-1",
                    started_at=now, expires_at=now + timedelta(hours=1), released_at=None))
        finally:
            app.close()
        whole = _export(api, "agent-1", f"/api/v1/subscribers/{A}/data-export")
        assert sorted(f["finding_id"] for f in whole["findings"]) == sorted(f["finding_id"] for f in FINDINGS)
        assert {f["finding_id"]: f["subscription_id"] for f in whole["findings"]}["fnd-previous"] == "c1-music"
        assert "c1-music" in {e["subscription_id"] for e in whole["consent_events"]}
