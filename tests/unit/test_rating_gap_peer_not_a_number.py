"""A call whose other party is not a number (a switch placeholder such as FreeSWITCH's ``&``, a SIP user such as
``client2``, ``anonymous``) is never priced in the fallback zone of unmatched numbers: it stays in the lake, and
rating leaves it unrated as ``peer_not_a_number`` unless its price does not depend on the destination."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import NotFoundError
from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files
from fairtel.rating import quote, rate

CATALOG = load_catalog(default_catalog_path())
MSISDN = "8613800000009"
AT = datetime(2026, 3, 3, 2, tzinfo=UTC)  # 10:00 in Shanghai
PEER_NOT_A_NUMBER = "peer_not_a_number"  # the stable unrated reason (``rating._rate.PEER_NOT_A_NUMBER``)


def call(peer: str | None, *, direction: str = "out", kind: str = "voice", record_id: str = "q1") -> dict[str, Any]:
    return {"record_id": record_id, "msisdn": MSISDN, "kind": kind, "direction": direction, "started_at": AT,
            "duration_s": 20 if kind == "voice" else None, "peer": peer}


def usage(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema={"record_id": pl.String(), "msisdn": pl.String(), "kind": pl.String(),
                                            "direction": pl.String(), "started_at": pl.Datetime("us", "UTC"),
                                            "duration_s": pl.Int64(), "peer": pl.String()})


@pytest.mark.parametrize("peer", ["&", "client2", "anonymous", "*86", "sip:1002@pbx"])
def test_a_call_to_no_number_is_not_priced_as_international(peer: str) -> None:
    [out] = quote([{**call(peer), "started_at": "2026-03-03T10:00:00+08:00"}], CATALOG, plan_id="basic-39")
    assert "amount" not in out, out
    assert out["error"]["code"] == PEER_NOT_A_NUMBER


def test_rating_leaves_it_unrated_with_its_reason_and_prices_the_numbers_beside_it() -> None:
    res = rate(usage(call("&", record_id="a"), call("client2", record_id="b"), call("8613900139000", record_id="c"),
                     call("85261234567", record_id="d")),
               CATALOG, {MSISDN: "basic-39"}, period="2026-03", allowances=False)
    assert dict(res.unrated.select("record_id", "reason").iter_rows()) == {"a": PEER_NOT_A_NUMBER, "b": PEER_NOT_A_NUMBER}
    assert dict(res.rated.select("record_id", "zone").iter_rows()) == {"c": "domestic", "d": "intl-1"}


def test_where_the_destination_does_not_matter_it_is_priced_without_a_zone() -> None:
    # incoming calls are free whatever the caller: a withheld or SIP caller is rated, with no zone
    res = rate(usage(call("anonymous", direction="in")), CATALOG, {MSISDN: "basic-39"}, period="2026-03")
    assert res.unrated.height == 0
    [line] = res.rated.to_dicts()
    assert (line["zone"], line["amount_minor"], line["rule_id"]) == (None, 0, "home/voice-in")


def test_a_number_is_told_by_its_leading_digits() -> None:
    assert CATALOG.zone_for("8613900139000").id == "domestic"
    assert CATALOG.zone_for("99912345").id == "intl-other"  # a number no prefix matches: the fallback zone
    assert CATALOG.zone_for("8613900139000@ims.example").id == "domestic"  # an IMS address with a number
    for peer in ("&", "client2", "anonymous", "*86", ""):
        assert not CATALOG.is_number(peer)
        with pytest.raises(NotFoundError, match="not a number"):
            CATALOG.zone_for(peer)
    peers = ["&", "client2", "8613900139000", "99912345", None]
    zones = pl.select(CATALOG.zone_expr(pl.lit(pl.Series(peers, dtype=pl.String)))).to_series().to_list()
    assert zones == [None, None, "domestic", "intl-other", "intl-other"]  # null: the fallback, as before


def test_freeswitch_sample_calls_to_ampersand_stay_in_the_lake_and_are_not_charged(shared_dir: Path,
                                                                                    tmp_path: Path) -> None:
    """6 of the 8 records the FreeSWITCH sample leaves in the lake have destination ``&``: kept by mediation (the
    lake holds what the switch wrote), unrated by rating; the calls to 1002 and 1004 (numbers) are priced."""
    home = tmp_path / "home"
    [rep] = ingest_files([shared_dir / "samples" / "cdr" / "freeswitch_cdr_csv_Master.csv"],
                         settings=Settings(home=home, batch_size=1000))
    assert (rep.accepted, rep.rejected) == (8, 0)
    lake = pl.read_parquet(sorted((home / "lake" / "usage").glob("period=*/*.parquet")), hive_partitioning=False)
    assert (lake["peer"] == "&").sum() == 6
    plans = {m: "basic-39" for m in lake["msisdn"].unique()}
    res = rate(lake, CATALOG, plans, period="2020-02")
    assert res.unrated["reason"].to_list() == [PEER_NOT_A_NUMBER] * 6
    assert sorted(res.unrated["record_id"]) == sorted(lake.filter(pl.col("peer") == "&")["record_id"])
    assert sorted(res.rated["record_id"].unique()) == sorted(lake.filter(pl.col("peer") != "&")["record_id"])
