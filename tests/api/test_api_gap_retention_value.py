"""`GET /retention` ranks as `fairtel churn warn` does: by expected value (probability × monthly revenue), not by
risk alone, and shows the figures that rank it and the reasons in both languages, numbers pseudonymised. A list
written without expected values (the seed's, as older scoring wrote it) is ranked by risk and says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import polars as pl
import pytest
from fairtel_seed import ALICE, BOB, CAROL, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.cli._insight import _publish_retention
from fairtel.insight._churn_warning import rank_retention
from fairtel.privacy import Pseudonymizer
from fairtel.store import Lake

DAVE, ERIN = "8613600136000", "8613500135000"


def _scores(rows: list[tuple[str, str, float, int]]) -> pl.DataFrame:
    """``score_frame``'s rows: (msisdn, plan, probability, monthly revenue in fen); expected value as it computes it."""
    return pl.DataFrame({
        "msisdn": [r[0] for r in rows], "plan_id": [r[1] for r in rows], "probability": [r[2] for r in rows],
        "flagged": [r[2] >= 0.5 for r in rows], "monthly_revenue_minor": [r[3] for r in rows],
        "expected_value_minor": [round(r[2] * r[3]) for r in rows], "currency": ["CNY"] * len(rows),
        **{f"reason_{k}_{lang}": [f"{lang} reason {k} of {r[0][-4:]}" for r in rows] for k in (1, 2, 3) for lang in ("en", "zh")},
    })


@pytest.fixture
def scored(seeded: Seeded) -> Iterator[pl.DataFrame]:
    """A list as `fairtel churn warn` publishes it, scored in November (the seed's list is October's)."""
    ranked = rank_retention(_scores([
        (ALICE, "senior-19", 0.95, 1900),  # the likeliest leaver, on the cheapest plan: 18.05 a month at stake
        (BOB, "unlimited-129", 0.40, 12900),  # half as likely to leave, 51.60 a month at stake
        (CAROL, "basic-39", 0.70, 3900),  # 27.30
        (DAVE, "basic-39", 0.50, 3900),  # 19.50, and ERIN the same: equal figures, ordered by pseudonym
        (ERIN, "basic-39", 0.50, 3900),
    ]))
    path = _publish_retention(seeded.app, ranked, date(2026, 11, 20))
    yield ranked
    assert Lake(seeded.settings.lake_dir).delete_part("retention", "2026-11", path.stem)


def test_the_list_is_ranked_by_expected_value_with_its_figures(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, scored: pl.DataFrame
) -> None:
    r = client.get("/api/v1/retention", headers=auth(tokens["analyst1"]))
    assert r.status_code == 200, r.text
    doc = r.json()
    items = doc["items"]
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")
    # BOB, half as likely to leave as ALICE, is worth the first call: more than twice the revenue at stake
    assert [items[k]["msisdn"] for k in (0, 1, 4)] == [pseudonym(BOB), pseudonym(CAROL), pseudonym(ALICE)]
    assert [(i["rank"], i["expected_value"], i["risk"]) for i in items] == [
        (1, "51.60", 0.4), (2, "27.30", 0.7), (3, "19.50", 0.5), (4, "19.50", 0.5), (5, "18.05", 0.95)]
    bob = items[0]
    assert (bob["monthly_revenue"], bob["currency"], bob["plan_id"], bob["flagged"]) == ("129.00", "CNY", "unlimited-129", False)
    assert bob["reasons"] == ["en reason 1 of 9000", "en reason 2 of 9000", "en reason 3 of 9000"]
    assert bob["reasons_zh"] == ["zh reason 1 of 9000", "zh reason 2 of 9000", "zh reason 3 of 9000"]
    tied = [i["msisdn"] for i in items[2:4]]
    number = {pseudonym(DAVE): DAVE, pseudonym(ERIN): ERIN}
    assert tied == sorted(tied, key=lambda p: pseudonym.digest(number[p]))
    assert doc["note"] is None
    text = r.text
    assert not any(m in text for m in (ALICE, BOB, CAROL, DAVE, ERIN))


def test_a_risk_floor_leaves_out_lower_risks_and_keeps_the_ranks(
    client: TestClient, tokens: dict[str, str], scored: pl.DataFrame
) -> None:
    r = client.get("/api/v1/retention", params={"min_risk": 0.6}, headers=auth(tokens["analyst1"]))
    assert [(i["rank"], i["expected_value"]) for i in r.json()["items"]] == [(2, "27.30"), (5, "18.05")]
    first = client.get("/api/v1/retention", params={"limit": 2}, headers=auth(tokens["analyst1"])).json()
    rest = client.get("/api/v1/retention", params={"limit": 2, "cursor": first["next_cursor"]},
                      headers=auth(tokens["analyst1"])).json()
    assert [i["rank"] for i in first["items"] + rest["items"]] == [1, 2, 3, 4]


def test_a_list_without_expected_values_is_ranked_by_risk_and_says_so(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    doc = client.get("/api/v1/retention", headers=auth(tokens["analyst1"])).json()
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")
    assert [(i["msisdn"], i["risk"], i["expected_value"]) for i in doc["items"]] == [
        (pseudonym(BOB), 0.81, None), (pseudonym(CAROL), 0.55, None), (pseudonym(ALICE), 0.12, None)]
    assert doc["items"][0]["reasons"] == ["bill shock", "network"] and doc["items"][0]["reasons_zh"] == []
    assert "ranked by churn risk alone" in doc["note"]
