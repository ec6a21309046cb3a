"""An owner change (过户: the register's ``holder_since``) and the VAS subscriptions of the line's previous customer,
on a home, end to end: `fairtel rate`, `fairtel watch --rate`, `fairtel bill`, `fairtel bill statement`, `fairtel
explain` and `fairtel assure`.

Line A is customer c1's since 2025; c1 subscribed (ordered and confirmed) to a music and a video service in February.
From 10 March 2026 (local midnight) the line is customer c9's, its activation kept. c9 subscribed to the video
service on 12 March. The providers charge: video on 1 March (c1's month), music on 11 March (under c1's
subscription, after the change), video on 13 March (under c9's own). Line B, unchanged, is the control.

The music charge of the 11th is refused ``previous_holder``: c9 never confirmed it, so it is on no bill, listed on
c9's statement at 0.00 with why, explained so, and the watch rates it as the batch run does. c9's own video charge
is billed, not taken for a duplicate of c1's charge of the 1st (which the bill run holds ``before_holding``). When
an older run let the charge through (rated before the register learnt of the change), charge assurance reports it.

Before: the gate read no ``holder_since``: the music charge was consented and billed to c9, and c9's own video
charge refused as a duplicate of c1's. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.cli._home import home_lines
from fairtel.core.settings import load_settings
from fairtel.store import import_subscribers

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
P = "2026-03"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n"
runner = CliRunner()


def _ok(*args: str) -> str:
    res = runner.invoke(cli, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def _json(home: Path, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(_ok(*args, "--home", str(home), "--json"))
    return out


def _event(event: str, sub: str, msisdn: str, offer: str, at: str) -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at,
                       "channel": "sms", "evidence": f"sms-reply:{sub}"}) + "\n"


def _subscribed(sub: str, msisdn: str, offer: str, day: str) -> str:
    return (_event("ordered", sub, msisdn, offer, f"{day}T10:00:00+08:00")
            + _event("confirmed", sub, msisdn, offer, f"{day}T10:05:00+08:00"))


CHARGES = [  # record id, line, offer, when, amount
    ("video-mar01", A, "vas-video-15", "2026-03-01T10:00:00+08:00", "15.00"),  # c1's, before the change
    ("music-mar11", A, "vas-music-10", "2026-03-11T10:00:00+08:00", "10.00"),  # under c1's order, after it
    ("video-mar13", A, "vas-video-15", "2026-03-13T10:00:00+08:00", "15.00"),  # under c9's own order
    ("b-music-mar11", B, "vas-music-10", "2026-03-11T10:00:00+08:00", "10.00"),  # the control
]


def _usage() -> str:
    return "".join(json.dumps({"record_id": r, "source": "spgw", "msisdn": m, "kind": "vas", "started_at": at,
                               "offer_id": o, "amount": amount, "currency": "CNY"}) + "\n"
                   for r, m, o, at, amount in CHARGES)


def _operator(root: Path, *, usage: bool) -> Path:
    op = root / "op"
    (op / "consent").mkdir(parents=True)
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "subscribers.csv").write_text(HEADER + f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n"
                                                 f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n",
                                        encoding="utf-8")
    (op / "consent" / "e.jsonl").write_text(
        _subscribed("c1-music", A, "vas-music-10", "2026-02-01") + _subscribed("c1-video", A, "vas-video-15", "2026-02-01")
        + _subscribed("c9-video", A, "vas-video-15", "2026-03-12") + _subscribed("c2-music", B, "vas-music-10", "2026-02-01"),
        encoding="utf-8")
    if usage:
        (op / "usage").mkdir()
        (op / "usage" / "vas.jsonl").write_text(_usage(), encoding="utf-8")
    return op


def _change_owner(root: Path, home: Path) -> None:
    """The register learns that A moved to c9 on 10 March, its activation kept."""
    app = bootstrap(load_settings(home=home))
    moved = root / "moved.csv"
    moved.write_text(HEADER + f"{A},c9,basic-39,2025-01-01T00:00:00+08:00,active,en,sh,2026-03-10T00:00:00+08:00\n"
                              f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n", encoding="utf-8")
    with app.db.begin() as conn:
        assert import_subscribers(conn, moved, now=datetime(2026, 3, 20, tzinfo=CN)).accepted == 2
    app.close()


def _verdicts(home: Path) -> dict[str, str]:
    files = [f for f in (home / "lake" / "rated" / f"period={P}").glob("*.parquet") if not f.name.startswith((".", "_"))]
    rated = pl.read_parquet(files).filter(pl.col("kind") == "vas")
    return dict(zip(rated["record_id"].to_list(), rated["verdict"].to_list(), strict=True))


EXPECTED = {"video-mar01": "consented", "music-mar11": "previous_holder", "video-mar13": "consented",
            "b-music-mar11": "consented"}


def test_the_previous_customer_s_subscription_charges_nothing_after_the_change(tmp_path: Path, database: str | None) -> None:
    home = tmp_path / "home"
    _ok("load", str(_operator(tmp_path, usage=True)), "--home", str(home))
    # an older run, before the register learnt of the change: the charge got through
    _json(home, "rate", "--period", P)
    assert _verdicts(home)["music-mar11"] == "consented"
    _change_owner(tmp_path, home)

    # charge assurance reports it, as a charge c9 never consented to
    found = [f for f in _json(home, "assure")["findings"] if f["kind"] == "unconsented_charge"]
    assert [(f["record_ids"], f["evidence"]["verdict"]) for f in found] == [(["music-mar11"], "previous_holder")]

    _json(home, "rate", "--period", P)
    assert _verdicts(home) == EXPECTED

    run = _json(home, "bill", "--period", P, "--issue")
    assert run["refused_vas"] == 1
    assert run["held_by_reason"] == {"before_holding": 1}  # c1's video charge of the 1st, on no bill
    a = next(b for b in run["sample"] if b["msisdn"] == A)
    fee = (Decimal("39") * 22 / 31).quantize(Decimal("0.01"))  # 10–31 March
    assert Decimal(a["total"]) == fee + Decimal("15.00"), a  # c9's own video charge, nothing of c1's
    b = next(b for b in run["sample"] if b["msisdn"] == B)
    assert Decimal(b["total"]) == Decimal("49.00"), b  # full fee and the music charge

    statement = _ok("bill", "statement", A, "--period", P, "--lang", "en", "--home", str(home))
    assert "consent given before the line's owner change" in statement
    zh = _ok("bill", "statement", A, "--period", P, "--lang", "zh", "--home", str(home))
    assert "订购早于号码过户" in zh

    explained = _json(home, "explain", "music-mar11", "--lang", "en")
    assert "previous_holder" in json.dumps(explained)
    shown = _ok("explain", "music-mar11", "--lang", "en", "--home", str(home))
    assert "owner change" in shown


def test_the_watch_rates_as_the_batch_run_does(tmp_path: Path, database: str | None) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    _ok("load", str(_operator(tmp_path, usage=False)), "--home", str(home), "--no-usage")
    _change_owner(tmp_path, home)
    inbox.mkdir()
    (inbox / "vas.jsonl").write_text(_usage(), encoding="utf-8")
    _ok("watch", str(inbox), "--once", "--rate", "--home", str(home))
    assert _verdicts(home) == EXPECTED
    # a running watch takes a register change from the changed lines alone: they carry the owner change too
    app = bootstrap(load_settings(home=home))
    try:
        whole, changed = home_lines(app), home_lines(app, [A, B])
    finally:
        app.close()
    change = datetime(2026, 3, 10, tzinfo=CN)
    assert whole.columns == changed.columns
    for lines in (whole, changed):
        assert dict(zip(lines["msisdn"].to_list(), lines["holder_since"].to_list(), strict=True)) == {A: change, B: None}
