"""The dashboard's "complaints resolved in time" and `fairtel kpi` use one definition: a complaint open past its
deadline has missed it. The seed's September complaint (opened 2026-09-23, an unexplained charge due in 48 h, never
resolved) makes September 0, where it read "not available" (dashboard) and null (`fairtel kpi`)."""

from __future__ import annotations

import json

from fairtel_seed import Seeded, auth
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fairtel.cli import app as cli


def test_september_with_only_an_overdue_complaint_attains_zero(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    kpis = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"])).json()
    points = {p["label"]: p["value"] for p in kpis["sla_attainment"]["points"]}
    assert kpis["sla_attainment"]["available"] and points.get("2026-09") == 0.0, kpis["sla_attainment"]

    res = CliRunner().invoke(cli, ["kpi", "--period", "2026-09", "--home", str(seeded.settings.home), "--json"])
    assert res.exit_code == 0, res.output
    sla = json.loads(res.stdout)["sla"]
    assert (sla["resolved"], sla["open_overdue"], sla["attainment"]) == (0, 1, "0.0000")
    assert float(sla["attainment"]) == points["2026-09"]
