"""A HEAD of a data export is not an export: it passes the GET's login and permission checks and answers its
status and headers, but neither makes the export nor writes a ``subscriber.export`` row (it made the whole export
and was audited exactly as a download). A refused HEAD is recorded as a refused GET is."""

from __future__ import annotations

from typing import Any

import pytest
from fairtel_seed import ALICE, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fairtel.store import AccessAudit
from fairtel.store._schema import table_of

ME, FOR_ALICE = "/api/v1/me/data-export", f"/api/v1/subscribers/{ALICE}/data-export"


def _rows(seeded: Seeded, action: str) -> int:
    a = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(a).where(a.c.action == action)) or 0)


def test_a_head_of_the_export_makes_and_records_nothing(client: TestClient, tokens: dict[str, str], seeded: Seeded,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtel.api._export as export

    before = _rows(seeded, "subscriber.export")
    made: list[str] = []
    real = export._bills

    def noting(*a: Any, **k: Any) -> Any:
        made.append("bills")
        return real(*a, **k)

    monkeypatch.setattr(export, "_bills", noting)
    for fmt in ("json", "zip"):
        r = client.head(f"{ME}?format={fmt}", headers=auth(tokens["alice"]))
        assert r.status_code == 200 and r.content == b"", r.text
        assert "content-length" not in r.headers, r.headers  # the length of an export not made is not known
        assert r.headers["content-type"].startswith("application/zip" if fmt == "zip" else "application/json")
    assert made == [] and _rows(seeded, "subscriber.export") == before
    r = client.get(ME, headers=auth(tokens["alice"]))  # the download is made and recorded as ever
    assert r.status_code == 200 and r.json()["msisdn"] == ALICE and int(r.headers["content-length"]) == len(r.content)
    assert made == ["bills"] and _rows(seeded, "subscriber.export") == before + 1


def test_a_head_is_refused_as_the_get_is_and_the_refusal_recorded(client: TestClient, tokens: dict[str, str],
                                                                 seeded: Seeded) -> None:
    exports = _rows(seeded, "subscriber.export")
    assert client.head(ME).status_code == client.get(ME).status_code == 401
    for user, path in (("analyst1", ME), ("analyst1", FOR_ALICE), ("agent1", FOR_ALICE)):
        got = client.get(path, headers=auth(tokens[user])).status_code
        denied = _rows(seeded, "access.denied")
        head = client.head(path, headers=auth(tokens[user]))
        assert head.status_code == got and got in (403, 404), (user, path, got, head.status_code)
        assert _rows(seeded, "access.denied") == denied + 1, (user, path)
    assert _rows(seeded, "subscriber.export") == exports
