"""An owner change (过户: ``holder_since`` inside the period) the register learns after the month's bill was issued is
corrected by `fairtel rerate`, never by touching the issued bill: credit entries bring it to what a bill run knowing
the change issues (the plan fee from the change's day, pro-rated; only the current customer's usage and VAS charges),
and the previous customer's credited records are held ``before_holding`` as that run holds them.

The home is ``test_billing_gap_owner_change_late``'s, but the register moves line A from c1 to c9 (10 March) only after
March is billed: A's bill charged c9 the whole month, c1's call of the 5th (3.00) and c1's music pack of the 3rd
(10.00, consented), besides c9's call of the 20th. Taxed (plan fee 6 %, voice 9 %, VAS 6 %) so that the credits'
tax is checked too. SQLite and PostgreSQL.

Before: the rerate said there was nothing to correct (0 entries), `bill held` listed nothing of c1's, and a bill of
the next month carried no correction."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, A, B, as_json, invoke, open_app, runner
from test_billing_gap_owner_change_late import CN, HEADER, P, _call, _usage, _vas

from fairtel.bootstrap import bootstrap
from fairtel.cli import app as fairtel
from fairtel.core.settings import load_settings
from fairtel.store import adjustments_of, import_consent_events, import_subscribers, store_catalog

TAX = '{"plan_fee": "0.06", "voice": "0.09", "vas": "0.06"}'
LINES = (f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n"
         f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n")
MOVED = (f"{A},c9,basic-39,2025-01-01T00:00:00+08:00,active,en,sh,2026-03-10T00:00:00+08:00\n"
         f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n")


def _register(home: Path, rows: str, at: datetime) -> None:
    path = home.parent / f"register-{at:%Y%m%d}.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    app = open_app(home)
    with app.db.begin() as conn:
        assert import_subscribers(conn, path, now=at).accepted == 2
    app.close()


@pytest.fixture
def home(tmp_path: Path, database: str | None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """March rated and billed while the register still names c1 as A's customer; then the register learns that A is
    c9's since 10 March."""
    monkeypatch.setenv("FAIRTEL_TAX_RATES", TAX)
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    events = tmp_path / "consent.jsonl"
    events.write_text("".join(json.dumps({"event": e, "subscription_id": "s1", "msisdn": A, "offer_id": "vas-music-10",
                                          "at": f"2026-02-25T10:0{minute}:00+08:00", "channel": "sms",
                                          "evidence": f"s1:{e}"}) + "\n"
                              for e, minute in (("ordered", 0), ("confirmed", 5))), encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_consent_events(conn, events).accepted == 2
    app.close()
    _register(home, LINES, datetime(2026, 1, 5, tzinfo=CN))
    _usage(home, "t1", [_call("c1-call", A, 5), _call("c9-call", A, 20), _call("b-call", B, 12),
                        _vas("c1-music", "vas-music-10", 1000, 3)])
    run = as_json(home, "bill", "--period", P, "--issue")
    a = next(b for b in run["sample"] if b["msisdn"] == A)
    assert Decimal(a["total"]) == Decimal("58.48"), a  # 39.00 + 2.34, 6.00 + 0.54, 10.00 + 0.60: all of March
    _register(home, MOVED, datetime(2026, 4, 2, tzinfo=CN))
    return home


def _entries(home: Path, msisdn: str) -> list[tuple[str | None, int, str]]:
    app = open_app(home)
    with app.db.connect() as conn:
        out = [(e.record_id, e.signed_minor, e.reason.split(" ")[0]) for e in adjustments_of(conn, msisdn)]
    app.close()
    return sorted(out, key=lambda x: (x[0] or "", x[1]))


def test_a_rerate_credits_what_the_bill_charged_before_the_change(home: Path) -> None:
    rr = as_json(home, "rerate", "--period", P)
    # the fee from the change (22 of 31 days, 27.68 + 1.66 tax) instead of the month's (39.00 + 2.34); c1's call
    # (3.00, and the voice tax it added: 0.54 → 0.27) and c1's music pack (10.00 + 0.60)
    assert _entries(home, A) == [(None, -1200, "holding-fee"), ("c1-call", -327, "holding-record"),
                                 ("c1-music", -1060, "holding-record")]
    assert _entries(home, B) == []
    assert rr["adjustments_issued"] == 3 and rr["credits"] == 3 and rr["net"] == "-25.87", rr
    assert rr["owner_change_credits"] == 3
    # what a bill run knowing the change issues: 27.68 + 1.66 fee, c9's call 3.00 + 0.27
    assert Decimal("58.48") + Decimal(rr["net"]) == Decimal("32.61")
    note = next(n for n in rr["notes"] if "moved to another customer" in n)
    assert "1 plan fee(s), 1 usage record(s), 1 VAS charge(s)" in note and A not in note, note


def test_a_rerun_credits_nothing_more_and_a_crash_after_the_commit_neither(home: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtel.cli._billing as cli_billing

    def crash(*_a: object, **_k: object) -> int:
        raise RuntimeError("stopped after the commit")

    with monkeypatch.context() as m:  # stopped between the ledger's commit and the rest of the rerate
        m.setattr(cli_billing, "_keep_settled", crash)
        stopped = runner.invoke(fairtel, ["rerate", "--period", P, "--home", str(home), "--json"])
        assert stopped.exit_code != 0
    assert len(_entries(home, A)) == 3
    again = as_json(home, "rerate", "--period", P)
    assert again["adjustments_issued"] == 0 and again["net"] == "0.00", again
    assert len(_entries(home, A)) == 3
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0


def test_the_credited_records_are_held_as_the_bill_run_holds_them(home: Path) -> None:
    assert as_json(home, "bill", "held", "--period", P)["held"] == []  # charged to c9 until corrected
    as_json(home, "rerate", "--period", P)
    listed = as_json(home, "bill", "held", "--period", P)
    held = {r["record_id"]: (r["reason"], r["status"], r["amount"]) for r in listed["held"]}
    assert held == {"c1-call": ("before_holding", "pending", "3.00"), "c1-music": ("before_holding", "pending", "10.00")}
    # never released onto c9's bill, only written off
    refused = runner.invoke(fairtel, ["bill", "release", "--period", P, "--record", "c1-music", "--by", "eng1",
                                      "--home", str(home)])
    assert refused.exit_code != 0 and "write it off" in refused.output, refused.output
    out = as_json(home, "bill", "release", "--period", P, "--msisdn", A, "--write-off", "--by", "eng1")
    assert out["records"] == 2 and out["adjustments_issued"] == 0, out
    status = {r["record_id"]: r["status"] for r in as_json(home, "bill", "held", "--period", P)["held"]}
    assert status == {"c1-call": "written_off", "c1-music": "written_off"}
    # and a rerate afterwards still issues nothing: the written-off records are not charged back
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0


def test_a_rerate_with_no_owner_change_issues_nothing(home: Path) -> None:
    _register(home, LINES, datetime(2026, 4, 3, tzinfo=CN))  # the register says A is c1's again, as billed
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 0 and rr["owner_change_credits"] == 0, rr


def test_the_next_bill_carries_the_credits_worded_in_the_reader_s_language(home: Path) -> None:
    as_json(home, "rerate", "--period", P)
    april = as_json(home, "bill", "--period", "2026-04", "--issue")
    assert april["adjustments_carried"] == 3
    en = invoke(home, "bill", "statement", A, "--period", "2026-04", "--lang", "en").stdout
    zh = invoke(home, "bill", "statement", A, "--period", "2026-04", "--lang", "zh").stdout
    assert "line transferred to you on 2026-03-10: charges before that date credited" in " ".join(en.split()), en
    assert "号码于 2026-03-10 过户给您" in zh, zh
    assert "holding-" not in en and "holding-" not in zh


def test_the_subscriber_s_bill_page_says_why_its_total_differs(home: Path) -> None:
    from fastapi.testclient import TestClient

    from fairtel.api import ApiOptions, create_app, create_user
    from fairtel.web import create_console

    as_json(home, "rerate", "--period", P)
    app = open_app(home)
    with app.db.begin() as conn:
        create_user(conn, "walk-a", "a long enough password", "subscriber", msisdn=A)
    app.close()
    settings = load_settings(home=home)
    with TestClient(create_app(settings, options=ApiOptions(rate_per_second=0))) as client:
        token = client.post("/api/v1/auth/token", data={"username": "walk-a", "password": "a long enough password"}).json()
        r = client.get(f"/api/v1/me/bills/{P}", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 200, r.text
    bill = r.json()
    assert bill["total"] == "58.48"  # the bill as issued
    fixes = bill["corrections"]
    assert sorted(c["amount"] for c in fixes) == ["-10.60", "-12.00", "-3.27"], fixes  # the fee, c1's music and call
    assert all(c["reason"].startswith("line transferred to you on 2026-03-10: charges before that date credited")
               and c["reason_zh"].startswith("号码于 2026-03-10 过户给您") and c["carried_in"] is None for c in fixes), fixes
    with TestClient(create_console(settings, options=ApiOptions(rate_per_second=0))) as web:
        assert web.post("/login", data={"username": "walk-a", "password": "a long enough password"},
                        follow_redirects=False).status_code == 303
        en = web.get(f"/my/bill?period={P}").text
        web.get("/lang/zh?next=/")
        zh = web.get(f"/my/bill?period={P}").text
    assert 'id="bill-corrections"' in en and "charges before that date credited" in en, en
    assert "号码于 2026-03-10 过户给您" in zh and "计入后续账单" in zh
