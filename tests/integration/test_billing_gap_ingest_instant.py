"""Whether a VAS charge was in the lake when its bill was issued (``cli._billing._refused_on_bill``: one that was, and
that the bill does not hold, is never billed late) is told from mediation's ledger at full precision.

Before: the ledger kept the ingest's instant to the second and the bill's was cut to its second too, so a charge
ingested earlier in the bill's own second counted as late (and a rerate could bill a charge the bill refused), while
``<=`` would have caught a charge ingested after the bill in that second. Now the ledger keeps the microsecond; a row
of an earlier ledger (to the second) in the bill's second counts as in the lake (not billed, listed for review)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl

from fairtel.billing._order import PART
from fairtel.cli._billing import _refused_on_bill
from fairtel.core.time import Period

A = "8613900000071"
ISSUED = datetime(2026, 10, 1, 2, 0, 0, 500000, tzinfo=UTC)


def _ledger(home: Path, parts: dict[str, str]) -> None:
    """A mediation ledger naming each usage part of 2026-09 with its ingest instant (as text)."""
    (home / "mediation").mkdir(parents=True)
    conn = sqlite3.connect(home / "mediation" / "state.sqlite")
    conn.execute("CREATE TABLE files (content_hash TEXT PRIMARY KEY, ingested_at TEXT NOT NULL)")
    conn.execute("CREATE TABLE lake_parts (period TEXT, part TEXT, records INTEGER, content_hash TEXT)")
    for part, at in parts.items():
        conn.execute("INSERT INTO files VALUES (?, ?)", (f"h-{part}", at))
        conn.execute("INSERT INTO lake_parts VALUES ('2026-09', ?, 1, ?)", (part, f"h-{part}"))
    conn.commit()
    conn.close()


def _refused(tmp_path: Path, parts: dict[str, str]) -> set[tuple[str, str, str]]:
    home = tmp_path / "h"
    _ledger(home, parts)
    app: Any = SimpleNamespace(settings=SimpleNamespace(home=home))
    usage = pl.DataFrame({"msisdn": [A] * len(parts), "source": ["spgw"] * len(parts), "record_id": list(parts),
                          "kind": ["vas"] * len(parts), PART: [f"{p}.parquet" for p in parts]})
    bill: Any = SimpleNamespace(msisdn=A, issued_at=ISSUED)
    billed = pl.DataFrame(schema={"msisdn": pl.String(), "source": pl.String(), "record_id": pl.String()})
    return _refused_on_bill(app, Period.parse("2026-09"), usage, [bill], billed)


def test_an_ingest_in_the_bill_s_second_is_told_by_its_microseconds(tmp_path: Path) -> None:
    refused = _refused(tmp_path, {"before": "2026-10-01T02:00:00.200000+00:00",  # in the lake at the bill: refused on it
                                  "after": "2026-10-01T02:00:00.700000+00:00",  # after the bill, same second: late
                                  "old": "2026-10-01T02:00:00+00:00"})  # an earlier ledger's second: counted before
    assert refused == {(A, "spgw", "before"), (A, "spgw", "old")}


def test_the_ledger_keeps_the_ingest_instant_to_the_microsecond(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fairtel.bootstrap import bootstrap
    from fairtel.cli import app
    from fairtel.core.settings import load_settings

    home = tmp_path / "home"
    bootstrap(load_settings(home=home)).close()
    path = tmp_path / "f.jsonl"
    path.write_text('{"record_id": "v1", "source": "spgw", "msisdn": "8613900000071", "kind": "vas", '
                    '"started_at": "2026-09-03T10:00:00+08:00", "offer_id": "vas-music-10", "amount": "10.00", '
                    '"currency": "CNY"}\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["ingest", str(path), "--home", str(home)])
    assert res.exit_code == 0, res.output
    conn = sqlite3.connect(home / "mediation" / "state.sqlite")
    (at,) = conn.execute("SELECT ingested_at FROM files").fetchone()
    conn.close()
    assert datetime.fromisoformat(at).tzinfo is not None and "." in at and len(at.split(".")[1]) == len("000000+00:00"), at
