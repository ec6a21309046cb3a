"""Wangiri victims are protected, not only listed: every subscriber the number rang gets an SMS in the outbox
(do not call back), those who called back a different one (the call is being reviewed), once; a premium call back
is a ``premium_callback`` finding an analyst can refund; ``explain`` of the call back says so. A SIM-box case
names the box's other SIMs. Reasons state thresholds with their units and the premium zone by its name."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fairtel.assurance import FileOutbox, FindingKind, RefundPolicy
from fairtel.assurance._notify import WangiriTarget, wangiri_messages
from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.cli import app
from fairtel.cli._wangiri import premium_callback_findings, with_wangiri_warning
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.fraud import CallbackNotice, compute_features, detect, detect_simbox, detect_wangiri
from fairtel.rating._explain import Explanation
from fairtel.store import Lake, import_subscribers

SH = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 9, 7, tzinfo=SH)
NOW = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = "2026-09"
WANGIRI = "371298765432"  # Latvia 3712: the default catalog's premium zone
_ids = count()
runner = CliRunner()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def mobile(i: int) -> str:
    return f"86139{i:08d}"


def rec(msisdn: str, direction: str, at: datetime, *, peer: str, dur: int, imei: str | None = None) -> dict[str, Any]:
    return {
        "record_id": f"w{next(_ids):08d}",
        "source": "test",
        "msisdn": msisdn,
        "kind": "voice",
        "direction": direction,
        "started_at": at.astimezone(UTC),
        "duration_s": dur,
        "bytes_up": None,
        "bytes_down": None,
        "peer": peer,
        "roaming_country": None,
        "cell_id": "460-00-20161",
        "imei": imei or f"35{msisdn[-12:]}",
    }


SCHEMA = {
    "record_id": pl.String,
    "source": pl.String,
    "msisdn": pl.String,
    "kind": pl.String,
    "direction": pl.String,
    "started_at": pl.Datetime("us", "UTC"),
    "duration_s": pl.Int64,
    "bytes_up": pl.Int64,
    "bytes_down": pl.Int64,
    "peer": pl.String,
    "roaming_country": pl.String,
    "cell_id": pl.String,
    "imei": pl.String,
}
TARGETS = [mobile(100 + k) for k in range(12)]


def wangiri_rows() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The number rings 12 subscribers once; the first calls it back (95 s)."""
    rows = [
        rec(m, "in", MONDAY + timedelta(hours=2, minutes=k), peer=WANGIRI, dur=k % 3) for k, m in enumerate(TARGETS)
    ]
    back = rec(TARGETS[0], "out", MONDAY + timedelta(hours=8), peer=WANGIRI, dur=95)
    return [*rows, back], back


def notice(record_id: str = "r1", premium: bool = True, msisdn: str = TARGETS[0]) -> CallbackNotice:
    return CallbackNotice(
        "fcn_1",
        "fcs_1",
        msisdn,
        WANGIRI,
        record_id,
        "msc-02",
        datetime(2026, 9, 7, 8, tzinfo=UTC),
        95,
        "intl-premium" if premium else "intl-1",
        premium,
        "en",
        "zh",
    )


# ---------------------------------------------------------------------------------------------- SMS
def test_rung_and_called_back_subscribers_each_get_one_sms_in_their_language(tmp_path: Path) -> None:
    at = datetime(2026, 9, 6, 18, 2, tzinfo=UTC)
    targets = [
        WangiriTarget(TARGETS[1], WANGIRI, at, premium=True, called_back=False),
        WangiriTarget(TARGETS[1], WANGIRI, at + timedelta(hours=1), premium=True, called_back=False),
        WangiriTarget(TARGETS[2], WANGIRI, at, premium=True, called_back=False),
        WangiriTarget(TARGETS[0], WANGIRI, at, premium=True, called_back=False),
        WangiriTarget(TARGETS[0], WANGIRI, at + timedelta(hours=6), premium=True, called_back=True, finding_id="fnd_x"),
    ]
    sender = {"zh": "示例移动", "en": "Example Mobile"}
    messages = wangiri_messages(targets, languages={TARGETS[1]: "en"}, sender=sender, now=NOW, tz="Asia/Shanghai")
    by = {m.msisdn: m for m in messages}
    assert len(messages) == 3 and set(by) == set(TARGETS[:3])
    warned = by[TARGETS[1]]
    assert warned.kind == "wangiri_warning" and warned.language == "en"
    assert warned.text.startswith("Example Mobile: do not call back +371298765432")
    assert "one-ring scam" in warned.text and "premium rates" in warned.text and "2026-09-07 02:02" in warned.text
    assert by[TARGETS[2]].text.startswith("【示例移动】") and "请勿回拨" in by[TARGETS[2]].text
    back = by[TARGETS[0]]  # called back: told the call is reviewed, not only warned
    assert back.kind == "wangiri_callback" and back.finding_id == "fnd_x" and "核查" in back.text

    outbox = FileOutbox(tmp_path)
    assert outbox.send(messages) == 3
    again = wangiri_messages(targets, languages={TARGETS[1]: "en"}, sender=sender, now=NOW + timedelta(days=1))
    assert outbox.send(again) == 0  # a rerun sends nothing new


# ---------------------------------------------------------------------------------------------- findings
def test_a_premium_callback_becomes_a_refundable_finding_an_analyst_decides() -> None:
    rated = pl.DataFrame(
        {
            "msisdn": [TARGETS[0], TARGETS[0], TARGETS[1]],
            "source": ["msc-02"] * 3,
            "record_id": ["r1", "r1", "r2"],
            "amount_minor": [2000, 600, 1400],
            "currency": ["CNY"] * 3,
            "subscription_id": [None] * 3,
            "rule_id": ["intl/voice-premium"] * 3,
        }
    )
    found = premium_callback_findings(
        [notice("r1"), notice("r2", premium=False, msisdn=TARGETS[1])], rated, detected_at=NOW, tz="Asia/Shanghai"
    )
    assert len(found) == 1
    f = found[0]
    assert f.kind is FindingKind.PREMIUM_CALLBACK and f.kind.value == "premium_callback"
    assert (f.msisdn, f.record_ids, f.amount, f.currency) == (TARGETS[0], ("r1",), Decimal("26.00"), "CNY")
    assert f.evidence["caller"] == WANGIRI and f.evidence["source"] == "msc-02" and f.evidence["period"] == "2026-09"
    assert f.kind not in RefundPolicy().automatic  # an analyst decides
    assert premium_callback_findings([notice("r1")], rated, detected_at=NOW)[0].finding_id == f.finding_id


# ---------------------------------------------------------------------------------------------- explain
def test_explain_of_the_call_back_mentions_the_scam_warning() -> None:
    e = Explanation(
        record_id="r1",
        source="msc-02",
        msisdn=TARGETS[0],
        kind="voice",
        period=PERIOD,
        started_at=MONDAY,
        plan_id="basic-39",
        plan_name=None,
        currency="CNY",
        total_minor=2600,
        lines=(),
    )
    assert "scam" not in e.render("en").lower()
    warned = with_wangiri_warning(e, [notice("r1")])
    assert "Scam warning" in warned.render("en") and "one-ring scam" in warned.render("en")
    assert "诈骗" in warned.render("zh")
    assert WANGIRI not in warned.render("en")  # the other party's number is masked as on every reply
    assert with_wangiri_warning(e, [notice("r9")]) is e


# ---------------------------------------------------------------------------------------------- reasons
def test_wangiri_reasons_name_the_zone_state_units_and_local_times(catalog: Catalog) -> None:
    rows, _ = wangiri_rows()
    f = compute_features(pl.DataFrame(rows, schema=SCHEMA), catalog=catalog)
    zone = next(z for z in catalog.zones if z.id == "intl-premium")
    cases, notices = detect_wangiri(
        f.callers,
        f.callbacks,
        period=PERIOD,
        now=NOW,
        tz="Asia/Shanghai",
        zone_name={"en": zone.name.en, "zh": zone.name.zh},
    )
    (case,) = cases
    said = {r.code: r for r in case.reasons}
    assert zone.name.en in said["premium_zone"].en and zone.name.zh in said["premium_zone"].zh
    assert said["burst"].en.endswith("(≤ 48 hours)") and said["burst"].zh.endswith("（≤ 48 小时）")
    assert said["unanswered"].en.endswith("(≤ 3 s)")
    assert case.evidence["first_at"].endswith("+08:00") and case.evidence["last_at"].endswith("+08:00")
    (n,) = notices
    assert "calls to it are charged at premium rates" in n.text_en


# ---------------------------------------------------------------------------------------------- SIM-box
def test_a_simbox_case_names_the_other_sims_of_its_device(catalog: Catalog) -> None:
    box, imei = [mobile(1), mobile(2), mobile(3), mobile(4)], "356938037867562"
    rows = []
    n = count(1)
    for m in box:
        for d in range(4):
            for k in range(60):
                at = MONDAY + timedelta(days=3 + d, hours=7, seconds=k * 1000)
                rows.append(rec(m, "out", at, peer=mobile(next(n) + 10_000_000), dur=70 if k % 5 else 0, imei=imei))
        rows.append(rec(m, "in", MONDAY + timedelta(days=4, hours=12), peer=mobile(5), dur=30, imei=imei))
    usage = pl.DataFrame(rows, schema=SCHEMA)
    f = compute_features(usage, catalog=catalog)
    devices = usage.select("imei", "msisdn").unique()
    cases = detect_simbox(f.lines, period=PERIOD, now=NOW, devices=devices)
    assert sorted(c.subject for c in cases) == box
    for c in cases:
        assert c.evidence["sims_per_imei"] == 4
        assert c.related == tuple(m for m in box if m != c.subject)
        assert c.evidence["imeis"] == [imei]
    assert {c.subject: c.related for c in detect(f, period=PERIOD, now=NOW, devices=devices).cases} == {
        c.subject: c.related for c in cases
    }


# ---------------------------------------------------------------------------------------------- command line
def _home(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    home = tmp_path / "home"
    rows, back = wangiri_rows()
    frame = pl.DataFrame(rows, schema=SCHEMA)
    table = frame.with_columns(
        pl.lit(None, dtype=pl.String).alias(f.name) for f in CLEAN_USAGE_SCHEMA if f.name not in frame.columns
    ).to_arrow()
    Lake(home / "lake").write("usage", PERIOD, table, part="t1")
    rated = pl.DataFrame(
        {
            "record_id": [back["record_id"]],
            "source": ["test"],
            "line": [0],
            "msisdn": [back["msisdn"]],
            "period": [PERIOD],
            "amount_minor": [2600],
            "currency": ["CNY"],
            "subscription_id": [None],
            "rule_id": ["intl/voice-premium"],
        },
        schema_overrides={"subscription_id": pl.String},
    )
    path = Lake(home / "lake").part_path("rated", PERIOD, "r1")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rated.to_arrow(), path)
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        + "".join(
            f"{m},c{i},payg,2025-01-01T00:00:00+08:00,active,{'en' if i == 1 else 'zh'},sh\n"
            for i, m in enumerate(TARGETS)
        ),
        encoding="utf-8",
    )
    fapp: App = bootstrap(load_settings(home=home))
    with fapp, fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    return home, back


def test_fraud_detect_warns_every_victim_once_and_raises_the_premium_callback(tmp_path: Path) -> None:
    home, back = _home(tmp_path)
    first = runner.invoke(app, ["fraud", "detect", "--home", str(home), "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["warnings_sent"] == len(TARGETS) and summary["premium_callback_findings"] == 1
    sent = [json.loads(line) for line in (home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(m["msisdn"] for m in sent) == sorted(TARGETS)
    assert [m["msisdn"] for m in sent if m["kind"] == "wangiri_callback"] == [TARGETS[0]]
    english = next(m for m in sent if m["msisdn"] == TARGETS[1])
    assert english["language"] == "en" and "do not call back +371298765432" in english["text"]

    files = list((home / "lake" / "findings").rglob("*.parquet"))
    found = pl.concat([pl.read_parquet(f) for f in files])
    assert found["kind"].to_list() == ["premium_callback"] and found["record_ids"].to_list() == [[back["record_id"]]]
    assert found["amount_minor"].to_list() == [2600]
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.connect() as conn:
        from sqlalchemy import select

        from fairtel.store import Finding as FindingRow

        queued = list(conn.execute(select(FindingRow.kind, FindingRow.status, FindingRow.msisdn)))
    assert [(q.kind, q.status, q.msisdn) for q in queued] == [("premium_callback", "open", TARGETS[0])]

    again = json.loads(runner.invoke(app, ["fraud", "detect", "--home", str(home), "--json"]).stdout)
    assert again["warnings_sent"] == 0 and again["premium_callback_findings"] == 0
    assert len((home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()) == len(TARGETS)
