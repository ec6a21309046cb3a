"""A call back to a one-ring scam number made while roaming is charged at the roaming rate, not at premium rates:
its finding, the SMS, the refund's reason and ``explain`` say what it was charged. ``explain`` tells each record
its own share of a refund covering several records, and does not call a refunded call back "being reviewed"."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest

from fairtel.assurance import refund_reasons
from fairtel.assurance._notify import wangiri_messages
from fairtel.assurance._refunds import refund_reason
from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.cli._wangiri import premium_callback_findings, wangiri_targets
from fairtel.fraud import CallbackNotice
from fairtel.rating._explain import Explanation, Refund, refund_words

NOW = datetime(2026, 10, 20, tzinfo=UTC)
CALLER = "2393301234"
ROAMER, HOME = "8613800000002", "8613800000006"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def notice(msisdn: str, record_id: str) -> CallbackNotice:
    return CallbackNotice("fcn_" + record_id, "fcs_1", msisdn, CALLER, record_id, "canonical", datetime(2026, 10, 13, tzinfo=UTC), 180,
                          "intl-premium", True, "en", "zh")


def rated() -> pl.DataFrame:
    return pl.DataFrame({
        "msisdn": [ROAMER, HOME], "source": ["canonical", "canonical"], "record_id": ["cb-b", "cb-5"],
        "amount_minor": [597, 3200], "currency": ["CNY", "CNY"], "subscription_id": [None, None],
        "rule_id": ["roam/voice-roam-2", "intl/voice-premium"], "roaming_zone": ["roam-2", None],
    }, schema_overrides={"subscription_id": pl.String})


def test_a_call_back_made_while_roaming_is_told_at_the_roaming_rate(catalog: Catalog) -> None:
    notices = [notice(ROAMER, "cb-b"), notice(HOME, "cb-5")]
    for frame in (rated(), rated().drop("roaming_zone")):  # told by the rule that priced it, without the line's zone too
        found = {f.record_ids[0]: f for f in premium_callback_findings(notices, frame, detected_at=NOW, catalog=catalog)}
        assert found["cb-b"].evidence["charged_premium"] is False and found["cb-5"].evidence["charged_premium"] is True
        assert (found["cb-b"].evidence["roaming_zone"], found["cb-5"].evidence["roaming_zone"]) == ("roam-2", None)
    found = {f.record_ids[0]: f for f in premium_callback_findings(notices, rated(), detected_at=NOW)}  # no catalog: the line says
    assert (found["cb-b"].evidence["charged_premium"], found["cb-5"].evidence["charged_premium"]) == (False, True)
    assert refund_reason(found["cb-b"]) == "call back to a one-ring scam number"
    assert refund_reason(found["cb-5"]) == "call back to a one-ring scam number charged at premium rates"
    assert "call back to a one-ring scam number" in refund_reasons()

    targets = wangiri_targets([], pl.DataFrame(schema={"peer": pl.String, "msisdn": pl.String, "first_at": pl.Datetime("us", "UTC")}),
                              notices, findings=list(found.values()))
    by = {m.msisdn: m for m in wangiri_messages(targets, languages={ROAMER: "en", HOME: "zh"}, now=NOW)}
    assert "premium" not in by[ROAMER].text and "charged at roaming call rates" in by[ROAMER].text
    assert "国际高资费" in by[HOME].text
    zh = wangiri_messages(targets, languages={ROAMER: "zh"}, now=NOW)
    assert "国际漫游通话资费" in next(m.text for m in zh if m.msisdn == ROAMER)


def refund(records: int = 1, **kw: object) -> Refund:
    return Refund("adj_1", 17119, "CNY", datetime(2026, 11, 27, 4, tzinfo=UTC), "usage charged after the spending cap", records, **kw)  # type: ignore[arg-type]


def test_a_record_is_told_its_own_share_of_a_refund_for_several() -> None:
    from fairtel.rating._explain import with_share

    ids = ("d2-a-2", "irsf-0", "irsf-1")
    many = refund(3, record_ids=ids, charge_minor=17119)
    share = with_share(many, "irsf-0", 1990)
    assert share.share_minor == 1990
    en = refund_words(share, "en")
    assert en.startswith("refunded 19.90 CNY on 2026-11-27") and "share of a 171.19 CNY refund for 3 records" in en
    assert "credited on the first bill issued after that day" in en
    assert refund_words(share, "zh").startswith("2026-11-27 已退还 19.90 元")
    first = with_share(many, "d2-a-2", 1000)  # the first may have been charged partly before the cap: not told as its own
    assert first.share_minor is None
    assert "已退还 171.19" not in refund_words(first, "zh") and "refunded 171.19" not in refund_words(first, "en")
    taxed = with_share(refund(3, record_ids=ids, charge_minor=15000), "irsf-1", 1500)  # tax given back in proportion
    assert taxed.share_minor == round(Decimal(1500) * 17119 / 15000)


def test_a_refunded_call_back_is_not_being_reviewed() -> None:
    e = Explanation(record_id="cb-b", source="canonical", msisdn=ROAMER, kind="voice", period="2026-10",
                    started_at=datetime(2026, 10, 13, tzinfo=UTC), plan_id="basic-39", plan_name=None, currency="CNY",
                    total_minor=597, lines=(), wangiri_caller=CALLER,
                    refunds=(Refund("adj_2", 597, "CNY", NOW, "call back to a one-ring scam number"),))
    text = e.render("en", plain_numbers=True)
    assert "being reviewed" not in text and "was refunded" in text and "refunded 5.97 CNY" in text
    assert "正在核查" not in e.render("zh", plain_numbers=True)
