"""A roaming cap a subscriber set in another currency than their charges, with no exchange rate given, leaves
that subscriber's cap unwatched, with a note naming the line (its number masked), both currencies and the
`--rate` that would convert them; `fairtel assure` goes on for every other subscriber."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fairtel.assurance import AssurancePolicy, FindingKind, assure
from fairtel.assurance._billshock import OwnCapPolicy, SubscriberCap, UnwatchedCap
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.cli._assure import unwatched_cap_note
from fairtel.consent import empty_events
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.money import Money
from fairtel.core.settings import load_settings

runner = CliRunner()
A, B = "8613800000001", "8613800000002"
JST = timezone(timedelta(hours=9))


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _ok(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def _data(rid: str, msisdn: str, at: datetime, mib: int) -> str:
    return json.dumps({"record_id": rid, "msisdn": msisdn, "kind": "data", "started_at": at.isoformat(),
                       "bytes_down": mib * 1024 * 1024, "roaming_country": "JP"}) + "\n"


def _home(tmp_path: Path, day: datetime) -> Path:
    """Two roaming lines rated (JP data, 2.00 CNY/MiB, at most 30.00 a day): A 20.00 CNY, B 30.00 CNY; A's own
    cap is 5.00 USD, B's 30.00 CNY, both set the day before."""
    op, home, inbox = tmp_path / "op", tmp_path / "h", tmp_path / "inbox"
    op.mkdir()
    shutil.copy(default_catalog_path(), op / "catalog.toml")
    (op / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                                        f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,cq\n"
                                        f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,en,cq\n", encoding="utf-8")
    _ok("load", str(op), "--home", str(home), "--no-usage")
    inbox.mkdir()
    (inbox / "f1.jsonl").write_text(_data("a1", A, day, 10) + _data("b1", B, day, 20), encoding="utf-8")
    _ok("watch", str(inbox), "--once", "--rate", "--home", str(home))
    from fairtel.store import RoamingCap
    from fairtel.store._schema import table_of

    fapp = bootstrap(load_settings(home=home))
    with fapp.db.begin() as conn:  # as PUT /me/roaming-cap writes it, A's with "currency": "USD"
        conn.execute(table_of(RoamingCap).insert(), [
            {"cap_id": "cap_a", "msisdn": A, "amount_minor": 500, "currency": "USD",
             "set_at": day - timedelta(days=1), "set_by": "sub"},
            {"cap_id": "cap_b", "msisdn": B, "amount_minor": 3000, "currency": "CNY",
             "set_at": day - timedelta(days=1), "set_by": "sub"},
        ])
    return home


def _day() -> datetime:
    """A recent instant of the current month on Tokyo's clock (the caps in force are read at the run's time)."""
    now = datetime.now(UTC)
    day = now - timedelta(hours=3)
    if day.month != now.month:
        day = now.replace(day=1, hour=0, minute=1, second=0, microsecond=0)
    return day.astimezone(JST)


def test_a_cap_in_a_currency_without_a_rate_is_skipped_for_its_line_alone(tmp_path: Path) -> None:
    home = _home(tmp_path, _day())
    res = runner.invoke(app, ["assure", "--home", str(home), "--json", "--no-write"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # B's cap is watched: 30.00 of 30.00 CNY, its 80 % and 100 % alerts
    shocks = [f for f in out["findings"] if f["kind"] == FindingKind.BILL_SHOCK.value]
    assert sorted((f["msisdn"], f["evidence"]["threshold_pct"]) for f in shocks) == [(B, 80), (B, 100)]
    # A's is not, and a note says so: the line masked, both currencies, the option and the rate's direction
    (note,) = [n for n in out["notes"] if "roaming cap" in n]
    assert "86138****0001" in note and A not in note
    assert "the cap is in USD" in note and "charges in CNY" in note
    assert "--rate USD=VALUE (VALUE: how many CNY one USD is worth)" in note
    assert "OwnCapPolicy" not in res.stdout
    # with the rate, A's cap is watched too, and no note is left
    res = runner.invoke(app, ["assure", "--home", str(home), "--json", "--no-write", "--rate", "USD=3"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # 5.00 USD x 3 = 15.00 CNY: A's 20.00 is past it (80 %: 12.00)
    by_line = sorted((f["msisdn"], f["kind"], f["evidence"].get("threshold_pct")) for f in out["findings"]
                     if f["kind"] in (FindingKind.BILL_SHOCK.value, FindingKind.USAGE_PAST_CAP.value))
    assert by_line == [(A, "bill_shock", 80), (A, "bill_shock", 100), (A, "usage_past_cap", None),
                       (B, "bill_shock", 80), (B, "bill_shock", 100)]
    assert not [n for n in out["notes"] if "roaming cap" in n]


def _rated(*rows: tuple[str, str, int, str]) -> pl.DataFrame:
    at = datetime(2026, 3, 5, 10, tzinfo=UTC)
    return pl.DataFrame(
        [{"record_id": r, "msisdn": m, "started_at": at, "amount_minor": a, "currency": c, "kind": "data",
          "roaming_country": "JP"} for r, m, a, c in rows],
        schema={"record_id": pl.String(), "msisdn": pl.String(), "started_at": pl.Datetime("us", "UTC"),
                "amount_minor": pl.Int64(), "currency": pl.String(), "kind": pl.String(),
                "roaming_country": pl.String()},
    )


def test_the_run_lists_the_caps_it_could_not_watch() -> None:
    usage = pl.from_arrow(CLEAN_USAGE_SCHEMA.empty_table())
    assert isinstance(usage, pl.DataFrame)
    caps = {A: SubscriberCap(Money.of("5", "USD"), datetime(2026, 3, 1, tzinfo=UTC)),
            B: SubscriberCap(Money.of("50", "CNY"), datetime(2026, 3, 1, tzinfo=UTC))}
    run = assure(usage=usage, offers={}, events=empty_events(), rated=_rated(("a1", A, 6000, "CNY"), ("b1", B, 6000, "CNY")),
                 subscriber_caps=caps, policy=AssurancePolicy(own_caps=OwnCapPolicy(skip_unconverted=True)),
                 now=datetime(2026, 3, 20, tzinfo=UTC))
    assert run.unwatched_caps == [UnwatchedCap(A, "USD", "CNY")]
    past = [f for f in run.findings if f.kind is FindingKind.USAGE_PAST_CAP]
    assert [(f.msisdn, f.amount) for f in past] == [(B, Decimal("10.00"))]


def test_the_note_names_the_rate_the_run_can_take() -> None:
    # the operator's currency is the one --rate converts to: a cap in it, charges in another
    note = unwatched_cap_note(UnwatchedCap(A, "CNY", "JPY"), {"CNY"})
    assert "--rate JPY=VALUE (VALUE: how many CNY one JPY is worth)" in note
    # --rate converts to a preset's EUR: neither currency can be converted to the other in this run
    note = unwatched_cap_note(UnwatchedCap(A, "USD", "CNY"), {"EUR"})
    assert "how many EUR one CUR is worth" in note and "neither of USD and CNY" in note
