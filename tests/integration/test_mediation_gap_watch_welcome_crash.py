"""`fairtel watch --rate` killed after a rating commit (before its welcome SMS went out, after the outbox took it but
before the notice was recorded, or after both) sends each trip's welcome exactly once on the rerun, and records it
once where the roaming-without-welcome check reads it. A kill is simulated by an exception no code of the watch
catches, raised at that point."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_mediation_gap_watch_roaming_alerts import A, B, _data, _home, _outbox, _start

from fairtel.cli import app
from fairtel.cli._online_alerts import OnlineAlerts

runner = CliRunner()


class _Killed(BaseException):
    """The process killed at this point."""


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _watch(home: Path, inbox: Path) -> None:
    res = runner.invoke(app, ["watch", str(inbox), "--once", "--interval", "0", "--rate", "--home", str(home)])
    assert res.exit_code == 0, res.output


def _notices(home: Path) -> list[dict[str, Any]]:
    path = home / "notices" / "welcome.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


# where the watch dies: after the commit, before anything is sent; after the outbox took the SMS, before the
# notice is recorded; after both, before the commit is noted as told
POINTS = {"commit": "after_commit", "sent": "_record", "recorded": "told"}


@pytest.mark.parametrize("point", sorted(POINTS))
def test_a_kill_around_the_commit_sends_each_welcome_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          point: str) -> None:
    start = _start()
    home, inbox = _home(tmp_path, start)
    (inbox / "f1.jsonl").write_text(_data("a1", A, start, 1) + _data("b1", B, start + timedelta(minutes=2), 1),
                                    encoding="utf-8")
    name = POINTS[point]
    known = hasattr(OnlineAlerts, name)

    def dies(self: OnlineAlerts, *args: Any, **kw: Any) -> Any:
        raise _Killed

    monkeypatch.setattr(OnlineAlerts, name, dies, raising=False)
    died = False
    try:
        runner.invoke(app, ["watch", str(inbox), "--once", "--interval", "0", "--rate", "--home", str(home)])
    except _Killed:
        died = True
    assert died or not known
    if point == "sent":
        assert [m["msisdn"] for m in _outbox(home)] == [A, B] and _notices(home) == []
    monkeypatch.undo()
    _watch(home, inbox)  # the rerun
    welcome = [m for m in _outbox(home) if m["kind"] == "roaming_welcome"]
    assert sorted(m["msisdn"] for m in welcome) == [A, B], welcome  # one SMS per trip
    notices = _notices(home)
    assert sorted((n["msisdn"], n["country"]) for n in notices) == [(A, "JP"), (B, "JP")], notices
    assert {n["message_id"] for n in notices} == {m["message_id"] for m in welcome}
    # the notice is recorded at the time the SMS was taken (read as the roaming-without-welcome check reads it)
    from fairtel.assurance._roaming import TRIP_GAP, welcome_findings
    from fairtel.cli._assure import _notices as read_notices

    told = read_notices([home / "notices" / "welcome.jsonl"])
    assert told is not None
    import polars as pl

    usage = pl.DataFrame({"record_id": ["a1", "b1"], "msisdn": [A, B],
                          "started_at": [start, start + timedelta(minutes=2)], "roaming_country": ["JP", "JP"]})
    assert welcome_findings(usage, told, detected_at=start, trip_gap=TRIP_GAP, grace=timedelta(hours=4)) == []
    # more runs, more usage on the same trips: nothing sent or recorded again
    (inbox / "f2.jsonl").write_text(_data("a2", A, start + timedelta(minutes=30), 1), encoding="utf-8")
    _watch(home, inbox)
    _watch(home, inbox)
    assert len([m for m in _outbox(home) if m["kind"] == "roaming_welcome"]) == 2
    assert len(_notices(home)) == 2


def test_a_failed_send_is_made_good_by_the_next_watch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a crash: the outbox unwritable at the commit, the commit stands, and the next watch sends its
    welcome at its start."""
    from fairtel.assurance._notify import FileOutbox

    start = _start()
    home, inbox = _home(tmp_path, start)
    _watch(home, inbox)
    (inbox / "f1.jsonl").write_text(_data("a1", A, start, 1), encoding="utf-8")

    def refused(self: FileOutbox, messages: Any) -> int:
        raise OSError("outbox unwritable")

    monkeypatch.setattr(FileOutbox, "send", refused)
    _watch(home, inbox)  # rated; the SMS not sent (said on stderr)
    assert _outbox(home) == []
    monkeypatch.undo()
    _watch(home, inbox)
    assert [m["msisdn"] for m in _outbox(home) if m["kind"] == "roaming_welcome"] == [A]
    assert [n["msisdn"] for n in _notices(home)] == [A]
