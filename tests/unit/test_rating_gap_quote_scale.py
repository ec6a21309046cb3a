"""`fairtel quote` writes every amount of one catalog to one scale (the record's, its lines', zero too), and a record
no rule prices says which plan, kind, direction, zone and roaming country had none, in zh and en."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fairtel.catalog import Catalog, default_catalog_path, import_cgrates, load_catalog, parse_catalog
from fairtel.rating import quote

NOW = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Shanghai
AT = "2025-03-04T10:00:00+08:00"


@pytest.fixture(scope="module")
def tutorial(shared_dir: Path) -> Catalog:
    catalog, problems = parse_catalog(
        import_cgrates(shared_dir / "samples" / "cdr" / "cgrates_tutorial_tp", now=NOW).text
    )
    assert catalog is not None, problems
    return catalog


def call(
    record_id: str, duration_s: int, *, peer: str = "1002", direction: str = "out", msisdn: str = "1001", **more: object
) -> dict[str, object]:
    return {
        "record_id": record_id,
        "msisdn": msisdn,
        "kind": "voice",
        "direction": direction,
        "peer": peer,
        "started_at": AT,
        "duration_s": duration_s,
        **more,
    }


def amounts(q: dict[str, object]) -> list[str]:
    lines = q["lines"]
    assert isinstance(lines, list)
    return [str(q["amount"]), *(str(ln["amount"]) for ln in lines)]


def test_one_scale_for_every_amount_of_a_catalog(tutorial: Catalog) -> None:
    assert tutorial.operator.amount_decimals == 4
    sms = {"record_id": "s", "msisdn": "1001", "kind": "sms", "direction": "out", "peer": "1002", "started_at": AT}
    out = {
        q["record_id"]: q
        for q in quote(
            [call("a", 130), call("b", 3600, peer="1003"), call("c", 60, direction="in"), call("d", 0), sms], tutorial
        )
    }
    assert amounts(out["a"]) == ["0.7169", "0.7200"]  # the CGRateS cost; the line, what a bill charges
    assert amounts(out["b"]) == ["36.0000", "36.0000"]
    assert amounts(out["c"]) == ["0.0000", "0.0000"]  # was: "0.00"
    assert amounts(out["d"]) == ["0.0000", "0.0000"]  # was: "0" at the top, "0.00" in the line
    assert amounts(out["s"]) == ["0.0100", "0.0100"]  # was: "0.0100" at the top, "0.01" in the line


def test_a_catalog_in_minor_units_keeps_them() -> None:
    demo = load_catalog(default_catalog_path())
    (q,) = quote(
        [
            {
                "record_id": "q1",
                "kind": "voice",
                "direction": "out",
                "started_at": "2026-03-03T10:00:00+08:00",
                "duration_s": 95,
                "peer": "85261234567",
            }
        ],
        demo,
    )
    assert q["amount"] == "3.00" and [ln["amount"] for ln in q["lines"]] == ["3.00"]


def test_no_rule_names_plan_kind_direction_and_zone(tutorial: Catalog) -> None:
    (q,) = quote([call("f", 60, peer="8613912345678")], tutorial)
    error = q["error"]
    assert error["code"] == "no_rule"
    # was: "not rated under plan RP_1001: no_rule"
    assert error["message"] == (
        "not rated: no rule in plan RP_1001 for voice (outgoing) to zone 'unlisted' (Numbers no destination lists)"
    )
    assert (
        error["message_zh"]
        == "未计费：套餐 RP_1001 中没有适用的计费规则：通话（主叫），目的地区域 unlisted（其他号码）"
    )
    assert error["details"] == {"plan_id": "RP_1001", "kind": "voice", "direction": "out", "zone": "unlisted"}


def test_no_rule_abroad_names_the_roaming_country(tutorial: Catalog) -> None:
    (q,) = quote([call("g", 60, msisdn="1002", peer="8613912345678", roaming_country="ZZ")], tutorial)
    error = q["error"]
    assert error["code"] == "no_roaming_zone" and q["plan_id"] == "RP_1002"
    assert "roaming in unknown country (ZZ), which no roaming zone of the catalog lists" in error["message"]
    assert "漫游地未知国家或地区（ZZ）未列入资费目录的任何漫游区域" in error["message_zh"]
    assert error["details"]["roaming_country"] == "ZZ" and error["details"]["roaming_zone"] is None


def test_the_words_explain_gives_a_record_left_out(tutorial: Catalog) -> None:
    from fairtel.rating._quote import why_unrated

    record = {"kind": "voice", "direction": "out", "peer": "8613912345678"}
    why = why_unrated(tutorial, record, "no_rule", plan_id="RP_1002")
    assert why.sentence("w10") == (
        "record 'w10' was not rated: no rule in plan RP_1002 for voice (outgoing) to zone 'unlisted' "
        "(Numbers no destination lists) [no_rule]"
    )
    assert why.sentence("w10", "zh") == (
        "话单 w10 未计费：套餐 RP_1002 中没有适用的计费规则：通话（主叫），目的地区域 unlisted（其他号码） [no_rule]"
    )
    sms = why_unrated(tutorial, {"kind": "sms", "direction": "in", "peer": "1002"}, "no_rule", plan_id="RP_1001")
    assert sms.zh.endswith("短信（接收），目的地区域 DST_1002（目的地 DST_1002）")
    stranger = why_unrated(tutorial, {"kind": "voice"}, "unknown_subscriber", plan_id=None)
    assert stranger.en == "the number is not in the subscriber register: no plan to price it with"
