"""`fairtel assure --refund` commits its refunds, then writes their SMS to the outbox: a run stopped in between
left the money right but the subscriber never told, since the rerun finds every refund refunded already and
posted (and so told) nothing. A rerun queues the SMS of every refund of an earlier run that the outbox lacks, the
same message (its id is the refund's), once; never one a bill carried already (an erased line's messages stay
erased) nor one older than the outbox keeps (retention removed it), nor a refund posted through the API (it tells
its own). On SQLite and on PostgreSQL (a private schema per test)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import test_assure_gap_refund_tax as refund_tax
from test_assure_gap_refund_tax import A, B, _billed_march, _open, _run

from fairtel.cli import _assure as assure_cli
from fairtel.core.time import utc_now

database_url = refund_tax.database_url  # the home's SQLite file, or a private schema on the PostgreSQL server


def _outbox(home: Path) -> dict[str, tuple[Any, ...]]:
    """message id → (number, language, kind, text, finding) of every message in the outbox (each id once)."""
    path = home / "outbox" / "messages.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = {r["message_id"]: (r["msisdn"], r["language"], r["kind"], r["text"], r["finding_id"]) for r in rows}
    assert len(out) == len(rows), "a message id written twice"
    return out


def _keep(home: Path, wanted: set[str]) -> None:
    """The outbox with only the messages ``wanted``: as a run stopped before its outbox write leaves it."""
    path = home / "outbox" / "messages.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if json.loads(line)["message_id"] in wanted), encoding="utf-8")


def test_a_rerun_queues_the_refund_sms_a_stopped_run_did_not(tmp_path: Path, database_url: str) -> None:
    home = _billed_march(tmp_path, database_url)
    first = _run(home, database_url, "assure", "--refund")
    assert first["refund"]["posted"] == 3 and first["notifications"] == 3
    told = _outbox(home)
    assert sorted((m[0], m[2]) for m in told.values()) == [(A, "refund"), (A, "refund"), (B, "refund")]
    assert any("tax of 1.95 CNY included" in m[3] for m in told.values())  # B's, in English, with the tax it gives back

    _keep(home, set())  # stopped after the refunds' commit, before the outbox write
    again = _run(home, database_url, "assure", "--refund")
    assert again["refund"]["posted"] == 0 and again["refund"]["already_refunded"] == 3
    assert _outbox(home) == told  # the same messages: ids, numbers, languages, texts
    assert again["refund"]["told_late"] == 3 and again["notifications"] == 3

    third = _run(home, database_url, "assure", "--refund")  # nothing sent twice
    assert third["refund"]["told_late"] == 0 and third["notifications"] == 0
    assert _outbox(home) == told

    b_sms = next(i for i, m in told.items() if m[0] == B)
    _keep(home, set(told) - {b_sms})  # one message lost: only that one comes back
    fourth = _run(home, database_url, "assure", "--refund")
    assert _outbox(home) == told
    assert fourth["refund"]["told_late"] == 1


def test_a_refund_billed_or_older_than_the_outbox_keeps_is_not_told_again(tmp_path: Path, database_url: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    home = _billed_march(tmp_path, database_url)
    assert _run(home, database_url, "assure", "--refund")["refund"]["posted"] == 3
    told = _outbox(home)
    a_sms = {i for i, m in told.items() if m[0] == A}
    _keep(home, set(told) - a_sms)

    # a run longer after the refunds than the outbox keeps a message: retention may have removed their SMS
    with _open(home, database_url) as app:
        keeps = timedelta(days=app.settings.retention.outbox_days + 1)
    monkeypatch.setattr(assure_cli, "utc_now", lambda: utc_now() + keeps)
    late = _run(home, database_url, "assure", "--refund")
    assert late["refund"]["posted"] == 0 and late["notifications"] == 0
    assert set(_outbox(home)) == set(told) - a_sms
    monkeypatch.undo()
    within = _run(home, database_url, "assure", "--refund")  # within it: told
    assert _outbox(home) == told
    assert within["refund"]["told_late"] == 2 and late["refund"]["told_late"] == 0

    # refunds carried by the next bill: their line may be erased since, with its messages; none comes back
    assert _run(home, database_url, "bill", "--period", "2026-04", "--issue")["adjustments_carried"] == 3
    _keep(home, set())
    after = _run(home, database_url, "assure", "--refund")
    assert _outbox(home) == {} and after["notifications"] == 0
