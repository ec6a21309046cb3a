"""A fraud case's new-holder reason ("new holder since <date>", code ``new_holder``) names the day the line changed
hands, and states the line's age to a tenth of a day. To those who see the line through a pseudonym (a fraud
analyst) the date is cut to its month, as the subscriber list cuts a line's activation, and the age (its value and
its words) to whole days, as the evidence's ages are: the day of an owner change (a customer taking a line with
their ID on a given day), or a tenth-of-a-day age beside the first premium call to the second, singles out the
customer behind the pseudonym. The new-line reason's age is cut the same way; other reasons are left as worded.
Before: "premium calls began 2.0 days after the line changed hands (new holder since 2026-03-10)" in full."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
from fairtel_seed import ALICE, BOB, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.fraud import Detector, FeatureConfig, FraudCase, compute_features, detect
from fairtel.store import FraudCase as FraudCaseRow
from fairtel.store._schema import table_of

CN = timezone(timedelta(hours=8))
MOVED, FRESH = ALICE, BOB  # changed owner on 10 March at 07:12 / activated on 10 March at 07:12
PREMIUM = "8819000001"  # the catalog's intl-premium range
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def _rec(rid: str, msisdn: str, day: int, hour: int, peer: str, duration_s: int) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC), "duration_s": duration_s,
                  "peer": peer, "parts": 1, "incomplete": False}


def _cases(pattern: str) -> dict[str, FraudCase]:
    """The IRSF (``irsf``) or scam cases of both lines, as ``fairtel fraud detect`` finds them (by msisdn)."""
    rows: list[dict[str, Any]] = []
    for m in (MOVED, FRESH):
        if pattern == "irsf":
            rows += [_rec(f"{m}-p{i}", m, 12, 10 + i, PREMIUM, 600) for i in range(6)]
        else:  # many different numbers called briefly, none calling back
            rows += [_rec(f"{m}-s{i}", m, 12, 9 + i // 10, f"86139{i:08d}", 8) for i in range(60)]
    usage = pl.DataFrame(rows, schema=pl.Schema(CLEAN_USAGE_SCHEMA))
    subscribers = pl.DataFrame({"msisdn": [MOVED, FRESH],
                                "activated_at": ["2025-01-01T00:00:00+08:00", "2026-03-10T07:12:00+08:00"],
                                "holder_since": ["2026-03-10T07:12:00+08:00", None]},
                               schema_overrides={"holder_since": pl.String})
    config = FeatureConfig(tz="Asia/Shanghai")
    features = compute_features(usage, catalog=load_catalog(default_catalog_path()), subscribers=subscribers,
                                config=config)
    wanted = Detector.IRSF if pattern == "irsf" else Detector.SCAM
    found = detect(features, period="2026-03", now=NOW, tz="Asia/Shanghai").cases
    return {c.subject: c for c in found if c.detector is wanted}


def _shown(client: TestClient, token: str, seeded: Seeded, cases: dict[str, FraudCase]) -> dict[str, dict[str, Any]]:
    """The cases as the API lists them to ``token``'s reader, by the case's stored subject."""
    with seeded.engine.begin() as conn:
        for c in cases.values():
            conn.execute(table_of(FraudCaseRow).insert().values(
                case_id=c.case_id, detector=c.detector.value, msisdn=c.subject, score=c.score, status="open",
                opened_at=NOW, decided_by=None, decided_at=None, evidence={**c.to_dict(with_history=False), "history": []}))
    page = client.get("/api/v1/fraud/cases", headers=auth(token))
    assert page.status_code == 200, page.text
    ids = {c.case_id: m for m, c in cases.items()}
    return {ids[c["case_id"]]: c for c in page.json()["items"] if c["case_id"] in ids}


def _reason(case: dict[str, Any], code: str, *, in_evidence: bool = False) -> dict[str, Any]:
    reasons = case["evidence"]["reasons"] if in_evidence else case["reasons"]
    return next(r for r in reasons if r["code"] == code)


def test_an_owner_change_reaches_a_fraud_analyst_by_its_month_and_the_age_in_whole_days(
        client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    irsf = _cases("irsf")
    stored = next(r for r in irsf[MOVED].reasons if r.code == "new_holder")
    assert "2026-03-10" in stored.en and "2.1 days" in stored.en  # what the detector wrote: the day, and 2.12 days
    shown = _shown(client, tokens["fraud1"], seeded, irsf)
    for where in (False, True):  # the reasons listed, and the same reasons in the evidence
        moved, fresh = _reason(shown[MOVED], "new_holder", in_evidence=where), _reason(shown[FRESH], "new_line",
                                                                                      in_evidence=where)
        assert moved["en"] == ("premium calls began 2 days after the line changed hands (new holder since 2026-03) "
                               "(≤ 30 days)")
        assert moved["zh"] == "过户（新机主自 2026-03 起）2 天后即开始拨打高资费号段（≤ 30 天）"
        assert moved["value"] == 2 and moved["threshold"] == 30
        assert fresh["en"] == "premium calls began 2 days after the line was activated (≤ 30 days)"
        assert fresh["value"] == 2
        # a reason that states no age is shown as worded
        assert _reason(shown[MOVED], "premium_calls", in_evidence=where)["en"].startswith("6 calls to the premium")
    assert "2026-03-10" not in str(shown[MOVED])
    assert shown[MOVED]["evidence"]["evidence"]["premium_line_age_days"] == 2  # the evidence's age, cut as before


def test_a_scam_cases_new_holder_reason_is_cut_the_same_way(
        client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    shown = _shown(client, tokens["fraud1"], seeded, _cases("scam"))
    moved = _reason(shown[MOVED], "new_holder")
    assert moved["en"] == "new holder since 2026-03, 2 days before this activity (≤ 30 days)"
    assert moved["zh"] == "过户（新机主自 2026-03 起）仅 2 天（≤ 30 天）"
    assert _reason(shown[FRESH], "new_line")["en"] == "line activated 2 days before this activity (≤ 30 days)"
