"""`fairtel explain` after a tariff change and a rerate: the steps are those of the catalog version the bill was
issued under (bills keep it), so they give the amount charged, and the correction issued for the record since
is told, so that what the subscriber pays adds up. It recomputed with the new catalog instead ("合计 …，按 up/2
取整 → 3.00" over steps of 2.40, then "should be 2.40") and said nothing of the credit already issued."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import TEXT, P, as_json, open_app

from fairtel.cli import app as fairtel
from fairtel.store import current_catalog, store_catalog

home = base.home  # the fixture: a home with three subscribers and their rated March usage
runner = CliRunner()
HK_RATE = 'rate = "1.50", rate_unit = "60s"'


def _explain(home: Path, *args: str) -> Any:
    out = runner.invoke(fairtel, ["explain", "v1", "--home", str(home), *args])  # A's 61 s call to Hong Kong
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout) if "--json" in args else out.stdout


def _corrected(home: Path) -> int:
    """Bill the period, correct the Hong Kong rate (1.50 → 1.20 a minute), rerate; the bill's catalog version."""
    as_json(home, "bill", "--period", P, "--issue")
    app = open_app(home)
    with app.db.begin() as conn:
        billed = current_catalog(conn)
        assert billed is not None
        store_catalog(conn, TEXT.replace(HK_RATE, 'rate = "1.20", rate_unit = "60s"'))
    app.close()
    rr = as_json(home, "rerate", "--period", P)
    assert rr["credits"] == 1 and rr["sample"][0]["record_id"] == "v1" and rr["net"] == "-0.60"
    return billed.version_id


def test_explained_with_the_billed_tariff_and_the_credit_issued_since(home: Path) -> None:
    billed_version = _corrected(home)
    zh = _explain(home, "--lang", "zh")
    # the tariff billed, and what of it changed since for this record (not a note of any change)
    changed = "资费“港澳台长途 1.50 元/分钟”由 1.50 元/分钟调整为 1.20 元/分钟"
    assert f"资费：按出账时适用的资费计算；此后本话单适用的资费已调整：{changed}\n" in zh
    billed = zh.split(changed)[1].split("合计")[0]  # the billed pricing, after the tariff line
    assert "1.50 元/分钟" in billed and "2 分钟 × 1.50 元/分钟 = 3 元" in billed and "1.20" not in billed
    assert "合计：3.00 元" in zh and "注意" not in zh  # the steps give the amount charged
    # the correction says why the amount moved; the lake was not rated again: no second pricing
    assert f"资费调整后重新计费，本话单由 3.00 元改为 2.40 元（{changed}），将在下期账单中抵扣 0.60 元" in zh
    assert "重新计费后的计价" not in zh
    assert zh.rstrip().endswith("更正后本话单计：2.40 元")
    en = _explain(home, "--lang", "en")
    assert "Correction on " in en and "3.00 CNY → 2.40 CNY (the rate “Calls to HK/MO/TW 1.50 CNY/min” changed from " \
        "1.50 CNY/min to 1.20 CNY/min); 0.60 CNY credited on your next bill" in en and "note:" not in en
    data = _explain(home, "--json")
    assert data["catalog_version_id"] == billed_version and data["earlier_tariff"] is True
    assert [(c["amount_minor"], c["old_minor"], c["new_minor"]) for c in data["corrections"]] == [(-60, 300, 240)]
    assert data["lines"][0]["recomputed_minor"] == data["lines"][0]["amount_minor"] == 300


def test_a_period_rated_again_since_is_explained_as_it_was_billed(home: Path) -> None:
    _corrected(home)
    assert runner.invoke(fairtel, ["rate", "--period", P, "--home", str(home)]).exit_code == 0  # now at 1.20
    zh = _explain(home, "--lang", "zh")
    # the bill's line (3.00, what the statement shows), then its correction: the arithmetic adds up to what is paid
    billed, again = zh.split("更正后本话单计：2.40 元\n重新计费后的计价：")
    assert "合计：3.00 元" in billed and "按出账时" in billed and "× 1.50 元/分钟 = 3 元" in billed
    assert "× 1.20 元/分钟" not in billed  # the rule's new rate is named in what changed, not in the billed steps
    assert "本话单由 3.00 元改为 2.40 元（资费“港澳台长途 1.50 元/分钟”由 1.50 元/分钟调整为 1.20 元/分钟），" \
        "将在下期账单中抵扣 0.60 元" in billed
    # then the record as the rerate priced it, which gives the amount after the correction
    assert "计费 2 分钟 × 1.20 元/分钟 = 2.4 元" in again and "2.40 元" in again and "3.00" not in again


def test_nothing_to_correct_says_nothing_of_it(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    zh = _explain(home, "--lang", "zh")
    assert "合计：3.00 元" in zh and "更正" not in zh and "按出账时" not in zh
    assert _explain(home, "--json")["corrections"] == []
