"""`fairtel merchants suspend | lift | list`: a fee-stealing provider's billing rights suspended durably, with who,
when and why. `fairtel rate` then refuses its charges dated from the suspension on (not billed; explained to the
subscriber as refused, the provider suspended), those before stay billed; lifted, its later charges are billed again.
`fairtel assure` reports each refused charge (``merchant_suspended_charge``) and, when a bill took one before the
suspension was recorded, `--refund` refunds it.

Before: `fairtel assure --suspend PROVIDER` suspended a provider for that run only; rating never learnt of it, so
the provider's next charges were billed again, and the gate's ``merchant_suspended`` verdict became no finding."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.store import (
    access_log,
    import_consent_events,
    import_subscribers,
    lift_merchant,
    store_catalog,
    suspend_merchant,
)

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
P = "2026-03"
SUSPENDED_AT = datetime(2026, 3, 10, 12, tzinfo=CN)
LIFTED_AT = datetime(2026, 3, 20, 12, tzinfo=CN)
runner = CliRunner()


def _invoke(home: Path, *args: str, code: int = 0, actor: str | None = None) -> Any:
    root = ["--actor", actor] if actor else []
    result = runner.invoke(cli, [*root, *args, "--home", str(home)])
    assert result.exit_code == code, result.output
    return result


def _json(home: Path, *args: str, actor: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(_invoke(home, *args, "--json", actor=actor).stdout)
    return out


def _open(home: Path) -> App:
    return bootstrap(load_settings(home=home))


def _vas(rid: str, msisdn: str, offer: str, minor: int, at: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {
        "record_id": rid,
        "source": "spgw",
        "msisdn": msisdn,
        "kind": "vas",
        "offer_id": offer,
        "amount_minor": minor,
        "currency": "CNY",
        "started_at": at.astimezone(UTC),
        "parts": 1,
        "incomplete": False,
    }


def _event(event: str, sub: str, msisdn: str, offer: str, at: str) -> dict[str, Any]:
    return {
        "event": event,
        "subscription_id": sub,
        "msisdn": msisdn,
        "offer_id": offer,
        "at": at,
        "channel": "sms",
        "evidence": f"{sub}:{event}",
    }


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A subscribed to sp-melody's ringtones (per use) and music pack (monthly), B to sp-streamly's video."""
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n"
        f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n",
        encoding="utf-8",
    )
    events = [
        _event("ordered", "s1", A, "vas-ringtone-2", "2026-02-25T10:00:00+08:00"),
        _event("confirmed", "s1", A, "vas-ringtone-2", "2026-02-25T10:05:00+08:00"),
        _event("ordered", "s2", A, "vas-music-10", "2026-02-25T11:00:00+08:00"),
        _event("confirmed", "s2", A, "vas-music-10", "2026-02-25T11:05:00+08:00"),
        _event("ordered", "s3", B, "vas-video-15", "2026-02-25T12:00:00+08:00"),
        _event("confirmed", "s3", B, "vas-video-15", "2026-02-25T12:05:00+08:00"),
    ]
    consent = tmp_path / "consent.jsonl"
    consent.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    app = _open(home)
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        assert import_subscribers(conn, subs).accepted == 2
        assert import_consent_events(conn, consent).accepted == 6
    app.close()
    return home


def _usage(home: Path, part: str, rows: list[dict[str, Any]]) -> None:
    app = _open(home)
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part=part)
    app.close()


def _verdicts(home: Path) -> dict[str, str]:
    app = _open(home)
    rated = pl.scan_parquet(app.lake.files("rated", periods=[P])).filter(pl.col("kind") == "vas").collect()
    app.close()
    return dict(zip(rated["record_id"], rated["verdict"], strict=True))


MARCH = [
    _vas("m1", A, "vas-music-10", 1000, datetime(2026, 3, 2, 9, tzinfo=CN)),
    _vas("r1", A, "vas-ringtone-2", 200, datetime(2026, 3, 5, 9, tzinfo=CN)),
    _vas("r2", A, "vas-ringtone-2", 200, datetime(2026, 3, 12, 9, tzinfo=CN)),
    _vas("v1", B, "vas-video-15", 1500, datetime(2026, 3, 12, 9, tzinfo=CN)),
]


def test_the_commands_record_who_when_why_and_refuse_what_they_cannot_do(home: Path) -> None:
    unknown = _invoke(home, "merchants", "suspend", "sp-nobody", "--reason", "x", code=2)
    assert "not_found" in unknown.output and "sp-nobody" in unknown.output and "sp-melody" in unknown.output
    assert "--reason" in _invoke(home, "merchants", "suspend", "sp-melody", code=2).output  # a reason is required
    assert "say why" in _invoke(home, "merchants", "suspend", "sp-melody", "--reason", "  ", code=2).output
    as_json = json.loads(_invoke(home, "merchants", "suspend", "sp-nobody", "--reason", "x", "--json", code=2).stdout)
    assert as_json["error"]["code"] == "not_found"

    made = _json(home, "merchants", "suspend", "sp-melody", "--reason", "top of the fee-stealing ranking", actor="ops1")
    assert made["suspended"] is True and made["suspension"]["suspended_by"] == "ops1"
    assert sorted(made["offers"]) == ["vas-music-10", "vas-ringtone-2"]
    again = _invoke(home, "merchants", "suspend", "sp-melody", "--reason", "again", actor="ops2")
    assert "already suspended" in again.output and "nothing changed" in again.output and "ops1" in again.output
    assert _json(home, "merchants", "suspend", "sp-melody", "--reason", "again")["already_suspended"] is True

    listed = _json(home, "merchants", "list")["suspensions"]
    assert [(s["provider_id"], s["suspended_by"], s["reason"], s["lifted_at"]) for s in listed] == [
        ("sp-melody", "ops1", "top of the fee-stealing ranking", None)
    ]
    assert "sp-melody" in _invoke(home, "merchants", "list").output

    assert "not_found" in _invoke(home, "merchants", "lift", "sp-nobody", code=2).output
    assert "not suspended; nothing changed" in _invoke(home, "merchants", "lift", "sp-streamly").output
    lifted = _json(home, "merchants", "lift", "sp-melody", "--reason", "cleared", actor="ops3")
    assert lifted["lifted"] is True and lifted["suspension"]["lifted_by"] == "ops3"
    assert _json(home, "merchants", "list")["suspensions"] == []
    history = _json(home, "merchants", "list", "--all")["suspensions"]
    assert [(s["provider_id"], s["suspended_by"], s["lifted_by"], s["lift_reason"]) for s in history] == [
        ("sp-melody", "ops1", "ops3", "cleared")
    ]

    app = _open(home)
    with app.db.connect() as conn:
        actions = [(r.action, r.actor, r.resource) for r in access_log(conn) if r.action.startswith("merchant.")]
    app.close()
    assert actions.count(("merchant.suspend", "ops1", "merchant/sp-melody")) == 1  # the idempotent ones wrote nothing
    assert ("merchant.lift", "ops3", "merchant/sp-melody") in actions


def test_rating_refuses_the_charges_dated_while_suspended_and_keeps_the_others(home: Path) -> None:
    _usage(home, "t1", MARCH)
    app = _open(home)
    with app.db.begin() as conn:
        suspend_merchant(conn, "sp-melody", at=SUSPENDED_AT, actor="ops1", reason="fee stealing")
    app.close()
    out = _json(home, "rate", "--period", P)
    assert out["records"] == 4
    assert _verdicts(home) == {"m1": "consented", "r1": "consented", "r2": "merchant_suspended", "v1": "consented"}

    # the subscriber's explanation says the charge was refused, the provider suspended
    told = _invoke(home, "explain", "r2", "--lang", "en").output
    assert "merchant suspended" in told or "provider suspended" in told, told
    assert "服务商已暂停" in _invoke(home, "explain", "r2", "--lang", "zh").output

    # lifted: later charges are billed again, those dated while suspended stay refused
    _usage(home, "t2", [_vas("r3", A, "vas-ringtone-2", 200, datetime(2026, 3, 25, 9, tzinfo=CN))])
    app = _open(home)
    with app.db.begin() as conn:
        lift_merchant(conn, "sp-melody", at=LIFTED_AT, actor="ops1", reason="cleared")
    app.close()
    _json(home, "rate", "--period", P)
    assert _verdicts(home) == {
        "m1": "consented",
        "r1": "consented",
        "r2": "merchant_suspended",
        "v1": "consented",
        "r3": "consented",
    }
    bill = _json(home, "bill", "--period", P)
    assert bill["by_kind"]["vas"] == "29.00"  # m1 10 + r1 2 + r3 2 + v1 15; r2 refused


def test_assure_reports_the_refused_charges_and_refunds_one_a_bill_took(home: Path) -> None:
    _usage(home, "t1", MARCH)
    _json(home, "rate", "--period", P)
    issued = _json(home, "bill", "--period", P, "--issue")
    assert issued["by_kind"]["vas"] == "29.00"  # every charge billed: nothing was suspended yet

    # the suspension is recorded after the bill, effective before r2 was charged
    app = _open(home)
    with app.db.begin() as conn:
        suspend_merchant(conn, "sp-melody", at=SUSPENDED_AT, actor="ops1", reason="fee stealing")
    app.close()
    run = _json(home, "assure", "--refund")
    found = [f for f in run["findings"] if f["kind"] == "merchant_suspended_charge"]
    assert [(f["record_ids"], f["amount"], f["evidence"]["provider_id"]) for f in found] == [
        (["r2"], "2.00", "sp-melody")
    ]
    assert datetime.fromisoformat(found[0]["evidence"]["suspended_since"]) == SUSPENDED_AT
    assert run["charges"]["verdicts"]["merchant_suspended"] == 1
    assert run["suspended"] == ["sp-melody"] and "sp-melody" not in run["suspension_advice"]
    assert run["refund"]["posted"] == 1 and run["refund"]["amount"] == {"CNY": "2.00"}
    assert _json(home, "assure", "--refund")["refund"]["posted"] == 0  # once

    # the text report names the suspended provider
    assert "suspended (their charges refused): sp-melody" in _invoke(home, "assure", "--no-write").output


def test_assure_suspend_for_one_run_still_refuses_every_charge(home: Path) -> None:
    _usage(home, "t1", MARCH)
    run = _json(home, "assure", "--no-write", "--suspend", "sp-streamly")
    found = [f for f in run["findings"] if f["kind"] == "merchant_suspended_charge"]
    assert [f["record_ids"] for f in found] == [["v1"]] and "suspended_since" not in found[0]["evidence"]
