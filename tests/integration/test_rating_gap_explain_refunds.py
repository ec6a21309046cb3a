"""What `fairtel explain`, the assistant and GET /me/usage say of a value-added charge: a refund posted after the bill
(a cancellation dated before the charge arrived late; charge assurance refunded it) is told with the charge, found
through the finding that names the record; each refusal verdict is worded for what it is; a charge with no
subscription says so once and the assistant gives the amount attempted.

Before: `explain m1` still said "订购已确认 → 10.00 元" and nothing of the 10.60 refunded; the assistant said "扣费时订购有效，
当前状态：已退订。如需退订…"; GET /me/usage said "under your confirmed subscription"; a charge refused as after the
cancellation was "没有有效的订购确认"; explain said "无订购记录，无订购"; the assistant left out the 5.00 attempted."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import CN, P, as_json, open_app, rec

from fairtel.api._explain import explain_line
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as fairtel
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import import_consent_events, import_subscribers, store_catalog

A, B, C = "8613800000021", "8613800000022", "8613800000023"
TEXT = default_catalog_path().read_text(encoding="utf-8")
runner = CliRunner()


def _event(event: str, sub: str, msisdn: str, offer: str, at: str) -> dict[str, Any]:
    return {"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at, "channel": "sms",
            "evidence": f"{sub}:{event}"}


def _consent(home: Path, name: str, events: list[dict[str, Any]]) -> None:
    path = home.parent / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    app = open_app(home)
    with app.db.begin() as conn:
        assert import_consent_events(conn, path).accepted == len(events)
    app.close()


def _vas(rid: str, msisdn: str, offer: str, minor: int, day: int) -> dict[str, Any]:
    return rec(rid, msisdn, source="spgw", kind="vas", direction=None, peer=None, offer_id=offer, amount_minor=minor,
               currency="CNY", started_at=datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """March billed: A's music pack (confirmed) charged 10.00 + 0.60 tax; B's video membership cancelled on 1 March,
    then charged on the 3rd (refused: after the cancellation); C charged 5.00 for news, never ordered (refused).
    Then A's cancellation dated 1 March arrives late and `assure --refund` refunds A's charge, 10.60."""
    with pytest.MonkeyPatch.context() as mp:  # one home for the module: the tests only read it
        mp.setenv("FAIRTEL_TAX_RATES", '{"vas": "0.06"}')
        yield _home(tmp_path_factory.mktemp("refunds"))


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n"
        f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n"
        f"{C},c3,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n",
        encoding="utf-8",
    )
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 3
    app.close()
    _consent(home, "c1.jsonl", [
        _event("ordered", "s1", A, "vas-music-10", "2026-02-25T10:00:00+08:00"),
        _event("confirmed", "s1", A, "vas-music-10", "2026-02-25T10:05:00+08:00"),
        _event("ordered", "s3", B, "vas-video-15", "2026-02-25T12:00:00+08:00"),
        _event("confirmed", "s3", B, "vas-video-15", "2026-02-25T12:05:00+08:00"),
        _event("cancelled", "s3", B, "vas-video-15", "2026-03-01T09:00:00+08:00"),
    ])
    app = open_app(home)
    rows = [_vas("m1", A, "vas-music-10", 1000, 2), _vas("b1", B, "vas-video-15", 1500, 3),
            _vas("n1", C, "vas-news-5", 500, 4)]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    assert as_json(home, "bill", "--period", P, "--issue")["bills"] == 3
    _consent(home, "c2.jsonl", [_event("cancelled", "s1", A, "vas-music-10", "2026-03-01T09:00:00+08:00")])
    assured = runner.invoke(fairtel, ["assure", "--refund", "--json", "--home", str(home)])
    assert assured.exit_code == 0, assured.output
    assert json.loads(assured.stdout)["refund"]["amount"] == {"CNY": "10.60"}
    return home


def _explain(home: Path, record_id: str, *args: str) -> Any:
    out = runner.invoke(fairtel, ["explain", record_id, "--home", str(home), *args])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout) if "--json" in args else out.stdout


def _chat(home: Path, msisdn: str, *messages: str) -> str:
    out = runner.invoke(fairtel, ["assistant", "chat", "--home", str(home), "--msisdn", msisdn, "--today", "2026-05-05",
                                  "--script", "-"], input="".join(m + "\n" for m in messages))
    assert out.exit_code == 0, out.output
    return str(out.stdout)


def test_explain_tells_the_refund_posted_for_the_charge(home: Path) -> None:
    zh = _explain(home, "m1", "--lang", "zh")
    assert "计费时按订购已确认计费，其后查明为退订后的扣费，已退款，订购号 s1 → 10.00 元" in zh
    assert "已退还 10.60 元（退订后的扣费）" in zh.splitlines()[-1] and zh.splitlines()[-1].startswith("退款：")
    en = _explain(home, "m1", "--lang", "en")
    assert "refunded 10.60 CNY on " in en and "(charge after the subscription ended)" in en
    data = _explain(home, "m1", "--json")
    assert [(r["amount_minor"], r["reason"]) for r in data["refunds"]] == [(1060, "charge after the subscription ended")]
    # a charge nobody refunded has none
    assert _explain(home, "b1", "--json")["refunds"] == []


def test_the_assistant_says_the_charge_was_refunded(home: Path) -> None:
    said = _chat(home, A, "3月那笔10块钱的扣费是什么")
    assert "已退还 10.60 元（退订后的扣费）" in said and "此后核实这笔扣费不应收取" in said
    assert "扣费时订购有效" not in said and "如需退订" not in said  # cancelled: nothing left to stop


def test_the_api_words_the_refund_with_the_line(home: Path) -> None:
    from fairtel.store._care import record_refunds

    app = open_app(home)
    with app.db.connect() as conn:
        refunds = record_refunds(conn, A, "m1", source="spgw", period=P)
        assert record_refunds(conn, A, "m1", source="other", period=P) == []
        assert record_refunds(conn, B, "b1", source="spgw", period=P) == []
    app.close()
    assert [(r.amount_minor, r.records) for r in refunds] == [(1060, 1)]
    row = {"kind": "vas", "amount_minor": 1000, "currency": "CNY", "rule_id": "offer/vas-music-10", "verdict": "consented",
           "subscription_id": "s1"}
    why = explain_line(row, load_catalog(default_catalog_path()), refunds=refunds)
    assert "under your confirmed subscription" not in why["en"] and "refunded 10.60 CNY on " in why["en"]
    assert "已退还 10.60 元（退订后的扣费）" in why["zh"]


def test_a_charge_refused_after_the_cancellation_is_not_said_never_to_have_been_confirmed(home: Path) -> None:
    said = _chat(home, B, "why was I charged for the video membership in March?")
    assert "you had cancelled the subscription before it was charged" in said and "blocked and not billed" in said
    assert "no valid confirmation" not in said


def test_a_charge_with_no_subscription_says_so_once_and_gives_the_amount_attempted(home: Path) -> None:
    zh = _explain(home, "n1", "--lang", "zh")
    assert "无订购记录 → 0.00 元" in zh and "无订购记录，无订购" not in zh
    assert "no subscription, no subscription" not in _explain(home, "n1", "--lang", "en")
    said = _chat(home, C, "3月新闻那笔扣费是什么")
    assert "已被拦截" in said and "（5.00 元）" in said and "您没有订购该业务" in said


def test_get_me_usage_tells_the_refund_with_the_line(home: Path) -> None:
    from fastapi.testclient import TestClient

    from fairtel.api import ApiOptions, create_app, create_user

    app = open_app(home)
    with app.db.begin() as conn:
        create_user(conn, "walk-a", "a long enough password", "subscriber", msisdn=A)
    app.close()
    with TestClient(create_app(load_settings(home=home), options=ApiOptions(rate_per_second=0))) as client:
        token = client.post("/api/v1/auth/token", data={"username": "walk-a", "password": "a long enough password"}).json()
        r = client.get(f"/api/v1/me/usage?period={P}", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 200, r.text
    (line,) = [x for x in r.json()["items"] if x["record_id"] == "m1"]
    assert "refunded 10.60 CNY on " in line["why"]["en"] and "已退还 10.60 元" in line["why"]["zh"]
