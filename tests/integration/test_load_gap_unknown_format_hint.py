"""``fairtel load`` of a directory whose usage/ holds a file of no known format: the message points to what
works (``load`` has no ``--format``): ``fairtel ingest --format`` on that file, the bundled field maps by name,
and ``load --no-usage`` for the rest."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fairtel.cli import app

# CGRateS partial records: no header, a layout only a field map describes
PARTIAL = (
    "4986517174963,004986517174964,DE-National,04.07.2016 18:58:55,04.07.2016 18:58:55,1,65,Peak,0.014560,498651,partial\n"
    "4986517174964,004986517174963,DE-National,04.07.2016 20:58:55,04.07.2016 20:58:55,0,74,Offpeak,0.003360,498651,complete\n"
)


def test_unknown_usage_format_tells_how_to_ingest_it(tmp_path: Path) -> None:
    ops = tmp_path / "op"
    (ops / "usage").mkdir(parents=True)
    (ops / "usage" / "file_part1.csv").write_text(PARTIAL, encoding="utf-8")
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "load", str(ops)], terminal_width=400)
    text = " ".join(result.output.split())
    assert "format_unknown" in text, result.output
    assert "bundled: fieldmap:cgrates-partial" in text
    assert "`fairtel load` has no --format" in text
    assert f"fairtel ingest --format FORMAT {ops / 'usage' / 'file_part1.csv'}" in text
    assert f"fairtel load {ops} --no-usage" in text
