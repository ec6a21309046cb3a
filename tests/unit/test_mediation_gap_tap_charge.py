"""The TAP wholesale charge never becomes a record's price: the lake keeps it in its own optional columns, and
docs/formats.md maps the readers' other fields only to lake columns or says they are not kept; the lake's
``amount_minor`` and ``currency`` are a VAS record's price."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
from tests.unit._tap_samples import commercial

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files
from fairtel.mediation.readers import _tap3 as tap3
from fairtel.mediation.readers import get_reader

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
TAP_SAMPLE = Path("samples") / "cdr" / "synthetic_tap3_12_CDZZZAAZZZBB00001.ber"
# the canonical fields: the lake's columns, ``amount`` (kept as ``amount_minor``), ``seq`` and ``final`` (stitching)
LAKE_FIELDS = set(CLEAN_USAGE_SCHEMA.names) | {"amount", "seq", "final"}


def _section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(title)
    end = text.index("\n## ", start)
    nxt = text.find("\n### ", start + len(title))
    return text[start: end if nxt < 0 else min(end, nxt)]


def _mapping_rows(section: str) -> list[tuple[list[str], str]]:
    rows = []
    for line in section.splitlines():
        m = re.match(r"^\| ([a-z_, ]+) \| (.*) \|$", line)
        if m and m.group(1) != "canonical":
            rows.append(([n.strip() for n in m.group(1).split(",")], m.group(2)))
    return rows


def test_tap_sample_charge_is_not_the_records_price(shared_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / TAP_SAMPLE.name
    path.write_bytes(commercial((shared_dir / TAP_SAMPLE).read_bytes()))
    batches = list(get_reader("tap3").read(path, source="tap3", batch_size=100))
    [row] = [r for b in batches for r in b.table.to_pylist()]
    assert (row["tap_charge"], row["tap_currency"], row["vpmn"]) == ("0.25000", "XDR", "ZZZAA")  # read...
    home = tmp_path / "home"
    [rep] = ingest_files([path], settings=Settings(home=home, batch_size=1000))
    assert (rep.accepted, rep.rejected) == (1, 0)
    [part] = (home / "lake" / "usage").glob("period=*/*.parquet")
    lake = pq.read_table(part)
    assert lake.schema.names == CLEAN_USAGE_SCHEMA.names  # ...kept apart (wholesale_charge_*), not as the price
    assert lake.select(["amount_minor", "currency", "roaming_country"]).to_pylist() == [
        {"amount_minor": None, "currency": None, "roaming_country": "ZZ"}]


def test_docs_map_reader_fields_only_to_lake_columns_or_say_they_are_not_kept() -> None:
    for title in ("### 3GPP TS 32.298 charging records", "### GSMA TAP 3.12"):
        rows = _mapping_rows(_section(title))
        assert rows, title
        for names, text in rows:
            outside = [n for n in names if n not in LAKE_FIELDS]
            assert not outside or "not kept" in text, (title, names, text)
    tap = _section("### GSMA TAP 3.12")
    amount = next(text for names, text in _mapping_rows(tap) if "amount" in names)
    assert "tapDecimalPlaces" not in amount  # the wholesale charge is not the lake's amount
    assert "charge is not kept" in tap and "tap_charge" in tap


def test_reader_docstring_does_not_claim_the_charge_is_kept() -> None:
    doc = " ".join((tap3.__doc__ or "").split())
    assert "kept for inter-operator reconciliation" not in doc
    assert "do not reach the lake" in doc
