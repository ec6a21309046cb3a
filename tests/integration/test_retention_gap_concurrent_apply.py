"""Two `fairtel retention apply` of one home at once: the second waits for the first, then plans what is left.

The plan was made before any lock was taken and the access-audit row written from it: two runs started together both
recorded "retention removes usage detail of P (...)", and the second's summary listed records it did not remove
(``applied.lake_records`` 0). Here a first run holds the home's retention lock and removes the detail while the
command starts: the command must wait for it, then record "removes nothing past its retention period" and list
nothing."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.core.settings import load_settings
from fairtel.core.time import utc_now
from fairtel.store._schema import AccessAudit, table_of

LINES = ("8613900000041", "8613900000042")
runner = CliRunner()


def _ft(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, [*args, "--home", str(home), "--json"], env={"FAIRTEL_CONFIG": os.devnull})
    assert result.exit_code == 0, (result.output, repr(result.exception))
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _home(tmp_path: Path) -> Path:
    op = tmp_path / "op"
    (op / "consent").mkdir(parents=True)
    (op / "usage").mkdir()
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        + "".join(f"{m},c{m[-1]},basic-39,2020-01-01T00:00:00+08:00,active,zh,cq\n" for m in LINES), encoding="utf-8")
    (op / "consent" / "e.jsonl").write_text("", encoding="utf-8")
    (op / "usage" / "u.jsonl").write_text("".join(json.dumps(
        {"record_id": f"c-{m[-2:]}-{d}", "source": "msc", "msisdn": m, "kind": "voice", "direction": "out",
         "started_at": f"2026-09-{d:02d}T10:00:00+08:00", "duration_s": 60, "peer": "8613811112222"}) + "\n"
        for m in LINES for d in (3, 4)), encoding="utf-8")
    home = tmp_path / "home"
    _ft(home, "load", str(op))
    _ft(home, "rate", "--period", "2026-09")
    assert _ft(home, "bill", "--period", "2026-09", "--issue")["bills"] == 2
    return home


def test_a_second_apply_waits_and_audits_what_it_removes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtel.store._retention as retention

    monkeypatch.setenv("FAIRTEL_RETENTION", json.dumps({"usage_months": 1}))
    home = _home(tmp_path)
    real_plan = retention.plan
    planned, first_done = threading.Event(), threading.Event()

    def plan_then_wait(*args: Any, **kwargs: Any) -> Any:
        out = real_plan(*args, **kwargs)
        planned.set()
        assert first_done.wait(60)
        return out

    monkeypatch.setattr(retention, "plan", plan_then_wait)
    second: dict[str, Any] = {}

    def run() -> None:
        result = runner.invoke(cli, ["retention", "apply", "--by", "dpo-2", "--home", str(home), "--json"],
                               env={"FAIRTEL_CONFIG": os.devnull})
        second.update(code=result.exit_code, stdout=result.stdout, error=repr(result.exception))

    app = bootstrap(load_settings(home=home))
    lock_path = app.lake.root / "rating_log" / "retention.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    thread = threading.Thread(target=run)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the first run holds the home's retention lock
        thread.start()
        planned.wait(5)  # a run that plans without waiting for the lock has planned by now
        with app.db.connect() as conn:
            first = real_plan(conn, app.lake, app.settings.rejects_dir, app.settings.retention, now=utc_now(),
                              timezone=app.settings.timezone, home=app.settings.home)
        assert first.detail_records > 0
        with app.db.begin() as conn:
            retention.apply_in_database(conn, first)
        assert retention.apply_in_files(app.lake, first)["records"] == first.detail_records
    finally:
        os.close(fd)  # the first run ends
        first_done.set()
        thread.join(timeout=90)
    try:
        assert not thread.is_alive()
        assert second["code"] == 0, (second["stdout"], second["error"])
        out = json.loads(second["stdout"])
        assert out["usage_detail"]["records"] == 0 and out["applied"]["lake_records"] == 0
        a = table_of(AccessAudit)
        with app.db.connect() as conn:
            reasons = [r for (r,) in conn.execute(select(a.c.reason).where(a.c.action == "retention.apply"))]
        assert len(reasons) == 1 and reasons[0].startswith("retention removes nothing past its retention period")
    finally:
        app.close()
