"""`fairtel assure` over a small operator directory written by hand."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fairtel.cli import app

runner = CliRunner()
M1, M2 = "8613800138000", "8613900139000"

CATALOG = """
[operator]
id = "demo"
currency = "CNY"

[[offers]]
id = "vas-music-10"
provider = "sp-melody"
price = "10.00"
period = "monthly"

[[offers]]
id = "vas-ringtone-2"
provider = "sp-melody"
price = "2.00"
period = "per_use"
"""


def _event(event: str, sub: str, at: str, msisdn: str = M1, offer: str = "vas-music-10") -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at, "channel": "sms", "evidence": f"{sub}-{event}"})


def _operator_dir(root: Path) -> Path:
    (root / "consent").mkdir(parents=True)
    (root / "usage").mkdir()
    (root / "catalog.toml").write_text(CATALOG, encoding="utf-8")
    (root / "consent" / "events.jsonl").write_text("\n".join([
        _event("ordered", "s1", "2026-09-01T10:00:00+08:00"),
        _event("confirmed", "s1", "2026-09-01T10:03:00+08:00"),
        _event("cancelled", "s1", "2026-09-10T09:00:00+08:00"),
        "{oops",
    ]) + "\n", encoding="utf-8")
    vas = [
        {"record_id": "v1", "msisdn": M1, "kind": "vas", "started_at": "2026-09-02T00:00:00Z", "offer_id": "vas-music-10", "amount": "10.00", "currency": "CNY"},
        {"record_id": "v2", "msisdn": M1, "kind": "vas", "started_at": "2026-09-05T00:00:00Z", "offer_id": "vas-music-10", "amount": "10.00", "currency": "CNY"},
        {"record_id": "v3", "msisdn": M1, "kind": "vas", "started_at": "2026-09-20T00:00:00Z", "offer_id": "vas-music-10", "amount": "10.00", "currency": "CNY"},
        {"record_id": "v4", "msisdn": M2, "kind": "vas", "started_at": "2026-09-03T00:00:00Z", "offer_id": "vas-ringtone-2", "amount": "2.00", "currency": "CNY"},
        {"record_id": "c1", "msisdn": M2, "kind": "voice", "started_at": "2026-09-03T00:00:00Z", "duration_s": 30, "peer": M1, "direction": "out"},
    ]
    (root / "usage" / "spgw-01.jsonl").write_text("\n".join(json.dumps(v) for v in vas) + "\nnot json\n", encoding="utf-8")
    (root / "usage" / "msc-02.csv").write_text(
        "record_id,msisdn,kind,direction,started_at,duration_s,peer,offer_id,amount,currency\n"
        f"x1,{M2},vas,,2026-09-04T00:00:00+08:00,,,vas-music-10,10.00,CNY\n"
        f"x2,{M2},voice,out,2026-09-04T00:00:00+08:00,12,{M1},,,\n",
        encoding="utf-8",
    )
    return root


def test_assure_json_lists_every_finding(tmp_path: Path) -> None:
    op = _operator_dir(tmp_path / "op")
    home = tmp_path / "home"
    result = runner.invoke(app, ["assure", "--home", str(home), "--operator-dir", str(op), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    found = {(f["kind"], tuple(f["record_ids"])): f for f in out["findings"]}
    assert set(found) == {
        ("duplicate_charge", ("v2",)),
        ("charge_after_cancellation", ("v3",)),
        ("unconsented_charge", ("v4",)),
        ("unconsented_charge", ("x1",)),
    }
    after = found[("charge_after_cancellation", ("v3",))]
    assert after["amount"] == "10.00" and after["subscription_id"] == "s1" and after["status"] == "open" and after["msisdn"] == M1
    assert all(f["finding_id"].startswith("fnd_") for f in out["findings"])
    assert out["charges"]["verdicts"]["consented"] == 1
    assert any(":4" in p for p in out["problems"])  # the bad consent line, with its line number
    assert list((home / "lake" / "findings").glob("period=2026-09/*.parquet"))
    again = json.loads(runner.invoke(app, ["assure", "--home", str(home), "--operator-dir", str(op), "--json"]).stdout)
    assert sorted(f["finding_id"] for f in again["findings"]) == sorted(f["finding_id"] for f in out["findings"])


def test_assure_summary_and_suspension(tmp_path: Path) -> None:
    op = _operator_dir(tmp_path / "op")
    result = runner.invoke(app, ["assure", "--home", str(tmp_path / "h"), "--operator-dir", str(op), "--suspend", "sp-melody", "--no-write"])
    assert result.exit_code == 0, result.output
    assert "merchant_suspended" in result.output and "unconsented_charge" in result.output


def test_assure_reports_a_missing_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["assure", "--home", str(tmp_path / "h"), "--operator-dir", str(tmp_path / "nope"), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "not_found"


def test_consent_check_and_state(tmp_path: Path) -> None:
    op = _operator_dir(tmp_path / "op")
    events = str(op / "consent" / "events.jsonl")
    checked = runner.invoke(app, ["consent", "check", events, "--json"])
    assert checked.exit_code == 1  # the file has one malformed line
    report = json.loads(checked.stdout)
    assert (report["read"], report["accepted"]) == (4, 3) and report["problems"][0].endswith(":4: not valid JSON: Expecting property name enclosed in double quotes at column 2")
    state = runner.invoke(app, ["consent", "state", events, "--home", str(tmp_path / "h"), "--at", "2026-09-05T00:00:00+08:00", "--json"])
    assert state.exit_code == 0, state.output
    (sub,) = json.loads(state.stdout)["subscriptions"]
    assert (sub["subscription_id"], sub["state"], sub["confirmation"]) == ("s1", "confirmed", "valid")
    later = json.loads(runner.invoke(app, ["consent", "state", events, "--home", str(tmp_path / "h"), "--at", "2026-09-11T00:00:00+08:00", "--json"]).stdout)
    assert later["subscriptions"][0]["state"] == "cancelled"


def test_refund_decisions_follow_what_billing_did() -> None:
    from dataclasses import replace
    from datetime import UTC, datetime
    from decimal import Decimal

    from fairtel.assurance import Finding, FindingKind, FindingStatus, decide_refunds, finding_id, record_keys

    now = datetime(2026, 10, 2, tzinfo=UTC)

    def charge(rid: str, status: FindingStatus = FindingStatus.OPEN, source: str = "spgw") -> Finding:
        return Finding(finding_id(FindingKind.UNCONSENTED_CHARGE, source, rid), FindingKind.UNCONSENTED_CHARGE, M1, (rid,), None,
                       Decimal("6.00"), "CNY", now, evidence={"source": source}, status=status)

    assert record_keys(charge("b1")) == [(M1, "spgw", "b1")]
    billed, refused, unrated, confirmed = charge("b1"), charge("r1"), charge("n1"), charge("b2", FindingStatus.CONFIRMED)
    d = decide_refunds([billed, refused, unrated, confirmed], billed_records={(M1, "spgw", "b1"), (M1, "spgw", "b2")},
                       refused_records={(M1, "spgw", "r1")}, now=now)
    assert sorted(r.finding_id for r in d.refunds) == sorted([billed.finding_id, confirmed.finding_id])
    assert [(r.finding_id, r.resolution) for r in d.resolutions if r.adjustment_id is None] == [(refused.finding_id, "not_billed")]
    assert d.pending == [unrated]  # not billed yet and not refused: a later run decides
    # another subscriber's record with the same id (from another switch) is not this charge's record
    other = decide_refunds([unrated], billed_records={(M2, "spgw", "n1")}, refused_records={(M2, "spgw", "n1")}, now=now)
    assert other.refunds == [] and other.resolutions == [] and other.pending == [unrated]
    # nor is the same subscriber's record with the same id from another source (a call the switch numbers "r1")
    call = decide_refunds([refused], billed_records={(M1, "msc-2", "r1"), (M1, "", "r1")}, refused_records={(M1, "spgw", "r1")}, now=now)
    assert call.refunds == [] and [r.resolution for r in call.resolutions] == ["not_billed"]
    # a finding that does not name its source matches the subscriber's record of any source
    anywhere = replace(refused, evidence={})
    assert record_keys(anywhere) == [(M1, "", "r1")]
    assert [r.finding_id for r in decide_refunds([anywhere], billed_records={(M1, "", "r1")}, now=now).refunds] == [anywhere.finding_id]
    closed = charge("b1", FindingStatus.RESOLVED)
    assert decide_refunds([closed], billed_records={(M1, "spgw", "b1")}, now=now).refunds == []


def test_assure_over_an_operator_directory_checks_the_registers_line_states(tmp_path: Path) -> None:
    """M1 closed its line on 3 September: the consented music charge of the 2nd stands, a later one is a charge
    after the line closed. Before, an operator directory's register was not read and the gate checked no line."""
    op = _operator_dir(tmp_path / "op")
    (op / "consent" / "events.jsonl").write_text("\n".join([
        _event("ordered", "s1", "2026-09-01T10:00:00+08:00"),
        _event("confirmed", "s1", "2026-09-01T10:03:00+08:00"),
    ]) + "\n", encoding="utf-8")
    (op / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at\n"
        f"{M1},c1,basic-39,2025-01-01T00:00:00+08:00,closed,zh,sh,2026-09-03T00:00:00+08:00\n"
        f"{M2},c2,basic-39,2025-01-01T00:00:00+08:00,retired,zh,sh,\n", encoding="utf-8")
    result = runner.invoke(app, ["assure", "--home", str(tmp_path / "h"), "--operator-dir", str(op), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    kinds = {tuple(f["record_ids"]): f["kind"] for f in out["findings"]}
    assert kinds[("v3",)] == "charge_after_cancellation"  # 20 September, after the line closed
    assert ("v1",) not in kinds  # 2 September, consented, the line in service
    assert out["charges"]["verdicts"].get("line_closed") == 2  # v2 (5 September) and v3
    assert any("unknown status" in n for n in out["notes"])  # M2's "retired" restricts nothing, said so
