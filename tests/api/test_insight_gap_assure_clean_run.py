"""The dashboard tells a clean charge-assurance run ("0 findings", with when it ran) from one that never ran."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from fairtel_seed import Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import delete

from fairtel.api._insight import ASSURE_RUNS, last_assure_run
from fairtel.store import Finding as FindingRow
from fairtel.store import Lake
from fairtel.store._schema import table_of
from fairtel.web._i18n import note_text

RAN_AT = datetime(2026, 11, 27, 4, 12, tzinfo=UTC)


def _record_run(lake: Lake, at: datetime, findings: int) -> None:
    """What ``fairtel assure`` records of a run that writes: when, and how many it found."""
    table = pa.table(
        {"ran_at": pa.array([at], pa.timestamp("us", tz="UTC")), "findings": pa.array([findings], pa.int64())}
    )
    lake.write(ASSURE_RUNS, f"{at.year:04d}-{at.month:02d}", table, part="last")


def _findings_series(client: TestClient, token: str) -> dict[str, object]:
    r = client.get("/api/v1/kpis", headers=auth(token))
    assert r.status_code == 200, r.text
    series: dict[str, object] = r.json()["findings_by_kind"]
    return series


def test_clean_run_reads_as_zero_findings_not_as_never_run(
    client: TestClient, seeded: Seeded, tokens: dict[str, str]
) -> None:
    with seeded.engine.begin() as conn:  # a home whose assurance found nothing
        conn.execute(delete(table_of(FindingRow)))
    lake = Lake(seeded.settings.lake_dir)
    assert last_assure_run(lake) is None
    series = _findings_series(client, tokens["analyst1"])
    assert series["available"] is False and series["note"] == "charge assurance has not run yet (fairtel assure)"

    _record_run(lake, datetime(2026, 10, 3, 1, 0, tzinfo=UTC), 4)
    _record_run(lake, RAN_AT, 0)
    assert last_assure_run(lake) == (RAN_AT, 0)
    series = _findings_series(client, tokens["analyst1"])
    assert series["points"] == []
    note = str(series["note"])
    assert note.startswith("0 findings (last run 2026-11-27 ") and "not run" not in note
    assert series["available"] is True
    assert note_text(note, "zh").startswith("0 条发现（上次运行于 2026-11-27 ")
    assert note_text(note, "en") == note
