"""The dashboard's complaints-per-million series goes month by month: a month without a complaint, while lines
were in service, is a point at 0, not a gap that joins the months on either side."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from fairtel_seed import BOB, CAROL, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, open_complaint

DESK = AuditAs("desk-1", "agent", Pseudonymizer("k" * 32, domain="msisdn"))


def test_a_month_without_complaints_is_a_point_at_zero(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    """Complaints opened in September and November 2024 (Asia/Shanghai), none in October; the seed's lines of
    2023 and 2024-06 were in service throughout."""
    with seeded.engine.begin() as conn:
        for msisdn, at in ((CAROL, datetime(2024, 9, 10, 2, 0, tzinfo=UTC)), (BOB, datetime(2024, 11, 12, 2, 0, tzinfo=UTC))):
            open_complaint(conn, msisdn=msisdn, category="billing", text="why", at=at, audit=DESK)
    kpis = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"])).json()
    labels = [p["label"] for p in kpis["complaints_per_million"]["points"]]
    per_million = {p["label"]: p["value"] for p in kpis["complaints_per_million"]["points"]}
    assert labels[:3] == ["2024-09", "2024-10", "2024-11"]
    assert per_million["2024-10"] == 0.0 and per_million["2024-09"] > 0 and per_million["2024-11"] > 0
    # every month from the first to the last, one point each, in order
    assert labels == sorted(set(labels))
    for a, b in pairwise(labels):
        y, m = map(int, a.split("-"))
        assert b == (f"{y + 1:04d}-01" if m == 12 else f"{y:04d}-{m + 1:02d}")
