"""A refund on a statement is worded in the statement's language and says the tax it gives back: a Chinese
statement printed charge assurance's English reason ("退款：charge after the subscription ended"), and neither
language showed that the refund (5.32) is the charge (5.00) and the tax its bill charged on it (0.32). On SQLite and
on PostgreSQL."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_assure_gap_refund_tax as refund_tax
from test_assure_gap_refund_tax import A, B, _billed_march, _open, _run

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._billing import statement_for

database_url = refund_tax.database_url  # the home's SQLite file, or a private schema on the PostgreSQL server


def _adjustments(home: Path, url: str, msisdn: str, lang: str) -> list[tuple[str, str]]:
    with _open(home, url) as app:
        text = statement_for(app, msisdn, "2026-04", catalog=load_catalog(default_catalog_path()), fmt="csv", lang=lang)
    rows = list(csv.reader(io.StringIO(text)))
    return sorted((r[9], r[11]) for r in rows[1:] if r[0] in ("调整", "Adjustment"))


def test_a_refund_line_is_worded_in_the_statements_language_with_the_tax_it_gives_back(tmp_path: Path, database_url: str) -> None:
    home = _billed_march(tmp_path, database_url)
    assert _run(home, database_url, "assure", "--refund")["refund"]["posted"] == 3
    assert _run(home, database_url, "bill", "--period", "2026-04", "--issue")["adjustments_carried"] == 3
    # A's wallpaper (3.00 + 0.19) and news (5.00 + 0.33: together A's 0.52 of VAS tax); B's game (30.00 + 1.95)
    assert _adjustments(home, database_url, A, "zh") == [("-3.19", "退款：退订后的扣费（含税费 0.19 元）"),
                                                          ("-5.33", "退款：退订后的扣费（含税费 0.33 元）")]
    assert _adjustments(home, database_url, A, "en") == [
        ("-3.19", "Refund: charge after the subscription ended (tax 0.19 CNY included)"),
        ("-5.33", "Refund: charge after the subscription ended (tax 0.33 CNY included)")]
    assert _adjustments(home, database_url, B, "zh") == [("-31.95", "退款：退订后的扣费（含税费 1.95 元）")]
    assert _adjustments(home, database_url, B, "en") == [
        ("-31.95", "Refund: charge after the subscription ended (tax 1.95 CNY included)")]
