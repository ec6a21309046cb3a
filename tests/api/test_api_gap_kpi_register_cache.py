"""The dashboard's lines in service are remembered by the register's version (reading the whole register on every
request took seconds at a few hundred thousand lines): a second request reads no register row, and a register import
(or a line's suspension) is seen by the next request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import Seeded, auth
from fastapi.testclient import TestClient

from fairtel.api import _insight
from fairtel.store import import_subscribers


def test_the_register_is_read_again_only_when_it_changed(
        client: TestClient, tokens: dict[str, str], seeded: Seeded, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real = _insight.lines_in_service_by_period

    def counted(lines: Any, bounds: Any) -> Any:
        reads.append(1)
        return real(lines, bounds)

    monkeypatch.setattr(_insight, "lines_in_service_by_period", counted)
    _insight._IN_SERVICE.clear()
    first = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"]))
    assert first.status_code == 200, first.text
    again = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"]))
    assert again.json()["subscribers"] == first.json()["subscribers"] and len(reads) == 1

    register = tmp_path / "more.csv"
    register.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                        "8613500135000,c-kpi-new,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with seeded.engine.begin() as conn:
        assert import_subscribers(conn, register).accepted == 1
    after = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"]))
    assert len(reads) == 2 and after.json()["subscribers"] == first.json()["subscribers"] + 1
