"""`fairtel explain` and the assistant after a tariff change: a record billed under the tariff since replaced says
what of the tariff that priced it changed, and says nothing of a change that did not touch its price (it printed
"资费：按出账时适用的资费计算（此后资费已调整）" on every record after any catalog change); a correction a later bill
carries names that bill."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, open_app
from test_rating_gap_explain_rerate import _corrected, as_json

from fairtel.cli import app as fairtel
from fairtel.cli._home import home_catalog
from fairtel.store import StoreCareData

home = base.home  # the fixture: a home with three subscribers and their rated March usage
runner = CliRunner()


def _explain(home: Path, record_id: str, lang: str) -> str:
    out = runner.invoke(fairtel, ["explain", record_id, "--home", str(home), "--lang", lang])
    assert out.exit_code == 0, out.output
    return out.stdout


def test_a_record_the_change_did_not_touch_says_nothing_of_it(home: Path) -> None:
    _corrected(home)  # billed, then the Hong Kong rate 1.50 → 1.20 a minute: v2 is a domestic call
    zh, en = _explain(home, "v2", "zh"), _explain(home, "v2", "en")
    assert "资费已调整" not in zh and "按出账时" not in zh and "合计：0.00 元" in zh and "更正" not in zh
    assert "Tariff:" not in en and "since changed" not in en and "Total: 0.00 CNY" in en
    app = open_app(home)  # the assistant says what `fairtel explain` prints
    port = StoreCareData(app.db, app.settings.lake_dir, home_catalog(app, None, []),
                         clock=lambda: datetime(2026, 4, 2, 4, tzinfo=UTC))
    charge = port.explain_charge(A, "v2", "zh")
    assert charge is not None and charge.explanation is not None
    assert charge.explanation.zh.rstrip() == zh.rstrip() and "资费已调整" not in charge.explanation.zh
    # the record whose rate changed says what changed, once, before the billed pricing
    v1 = _explain(home, "v1", "zh")
    assert "此后本话单适用的资费已调整：资费“港澳台长途 1.50 元/分钟”由 1.50 元/分钟调整为 1.20 元/分钟\n" in v1
    assert "（此后资费已调整）" not in v1 and "合计：3.00 元" in v1


def test_a_correction_carried_by_a_later_bill_names_it(home: Path) -> None:
    _corrected(home)
    as_json(home, "bill", "--period", "2026-04", "--issue")  # the April bill carries the March credit
    zh, en = _explain(home, "v1", "zh"), _explain(home, "v1", "en")
    assert "本话单由 3.00 元改为 2.40 元（" in zh and "），已在 2026-04 账单中抵扣 0.60 元" in zh, zh
    assert "将在下期账单中" not in zh and "合计：3.00 元" in zh and "更正后本话单计：2.40 元" in zh
    assert "0.60 CNY credited on the 2026-04 bill" in en and "your next bill" not in en
