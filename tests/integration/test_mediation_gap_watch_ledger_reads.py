"""`watch --rate` reads the consent ledger again only when events were added to it: a catalog loaded during the
watch (or a register changed in bulk) builds the gate again from the ledger as it was read, and an event added is
still taken. Before: every such change re-read and re-projected the whole ledger (millions of events at an
operator's size) though it had not changed."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import fairtel.store
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import _ui
from fairtel.cli._mediation import _online_rating
from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.settings import load_settings
from fairtel.mediation import ingest_files
from fairtel.store import import_consent_events, import_subscribers, store_catalog

A = "8613800000001"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"
_RATE = 'steps = [{ rate = "0.15", rate_unit = "60s", increment = "60s" }]'


def _call(rid: str, at: datetime) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(USAGE_FIELDS, "")
    return row | {"record_id": rid, "source": "sw1", "msisdn": A, "started_at": at.isoformat(), "kind": "voice",
                  "direction": "out", "peer": "8613912345678", "duration_s": "60"}


def test_the_ledger_is_read_again_only_when_it_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(_ui.err_console, "print", lambda text, **_: said.append(str(text)))
    reads: list[int] = []
    real = fairtel.store.consent_ledger

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fairtel.store, "consent_ledger", counted)
    app = bootstrap(load_settings(home=tmp_path / "home"))
    text = default_catalog_path().read_text(encoding="utf-8")
    (tmp_path / "r.csv").write_text(f"{HEADER}\n{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n",
                                    encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, text)
        import_subscribers(conn, tmp_path / "r.csv")
    after = _online_rating(app, quiet=True)
    assert len(reads) == 1  # the start
    t0 = datetime(2026, 3, 2, 2, tzinfo=UTC)

    def feed(name: str, rid: str, at: datetime) -> None:
        path = tmp_path / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=USAGE_FIELDS)
            w.writeheader()
            w.writerow(_call(rid, at))
        after(ingest_files([path], settings=app.settings))

    feed("f1", "c1", t0)
    with app.db.begin() as conn:  # another catalog version: the gate is built again, the ledger is as it was
        store_catalog(conn, text.replace(_RATE, _RATE.replace("0.15", "0.20")))
    feed("f2", "c2", t0 + timedelta(hours=1))
    assert len(reads) == 1 and len([s for s in said if "catalog version" in s]) == 1, said
    events = tmp_path / "events.jsonl"  # an order added: the next gate reads the ledger again
    events.write_text(json.dumps({"event": "ordered", "subscription_id": "s1", "msisdn": A, "offer_id": "vas-music-10",
                                  "at": "2026-03-02T10:30:00+08:00", "channel": "app"}) + "\n", encoding="utf-8")
    with app.db.begin() as conn:
        assert import_consent_events(conn, events).accepted == 1
        store_catalog(conn, text.replace(_RATE, _RATE.replace("0.15", "0.25")))
    feed("f3", "c3", t0 + timedelta(hours=2))
    assert len(reads) == 2 and len([s for s in said if "catalog version" in s]) == 2, said
    app.close()
