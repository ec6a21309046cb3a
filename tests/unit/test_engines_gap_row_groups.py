"""A rated part is written in row groups of a bounded size, each of one run of the lines' number order (the lines
by number, then the VAS lines by number) with the number's statistics, so the bill run's read of a chunk of
numbers (``scan_numbers``) decodes only the row groups that reach into the chunk: the others are never read (here
they are made unreadable, and the read still gives the chunk's lines). Reading the chunks one after another gives
every line once, as reading the part whole does.

Before: a part was one row group, which every chunk of the bill run decoded whole."""

from __future__ import annotations

import itertools
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal
from tests.unit.test_engines_gap_direct_buckets import usage
from tests.unit.test_rating_gap_coded_output import _gate, _register

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.engines import _buckets
from fairtel.engines._buckets import write_part
from fairtel.engines._kernels import rate_group
from fairtel.rating import RATED_COLUMNS

CATALOG = load_catalog(default_catalog_path())
NUMBERS = [f"86138000{i:05d}" for i in range(40)]
SIZE = 200


def rated_lines() -> pl.DataFrame:
    """A bucket's rated lines as the engine writes them (coded), VAS lines after the others."""
    records = usage(5, 4000, NUMBERS)
    rated, _ = rate_group(records, catalog=CATALOG, period="2026-03", gate=_gate(),  # type: ignore[arg-type]
                          subscribers=_register(), coded=True)
    assert rated.height > 10 * SIZE
    return rated


def groups(path: Path) -> list[tuple[int, str, str]]:
    """(rows, lowest number, highest number) of each row group, from the footer's statistics."""
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.names.index("msisdn")
    out = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(column).statistics
        assert stats is not None and stats.has_min_max, f"row group {g} has no statistics of the number"
        out.append((meta.row_group(g).num_rows, stats.min, stats.max))
    return out


@pytest.fixture
def part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[pl.DataFrame, Path]:
    monkeypatch.setattr(_buckets, "ROW_GROUP_ROWS", SIZE, raising=False)
    rated = rated_lines()
    path = tmp_path / "part-00000.parquet"
    write_part(rated, path)
    return rated, path


def test_a_part_is_row_groups_of_bounded_size_and_narrow_number_ranges(part: tuple[pl.DataFrame, Path]) -> None:
    rated, path = part
    found = groups(path)
    assert len(found) >= rated.height // SIZE
    assert all(rows <= SIZE for rows, _, _ in found)
    assert sum(rows for rows, _, _ in found) == rated.height
    vas = int((rated["kind"] == "vas").sum())
    assert 0 < vas < rated.height
    # the groups of the usage lines, then those of the VAS lines, each in number order: no group spans the point
    # where the order starts again, so each covers a narrow range of numbers
    usage_groups = found[: -(-vas // SIZE) - 1]
    assert all(a[2] <= b[1] for a, b in itertools.pairwise(usage_groups))
    widest = max(NUMBERS.index(hi) - NUMBERS.index(lo) for _, lo, hi in usage_groups)
    assert widest <= len(NUMBERS) // 4
    # the same lines, read back as plain strings
    assert_frame_equal(pl.read_parquet(path), rated.cast(RATED_COLUMNS))  # type: ignore[arg-type]


def unreadable(path: Path, keep: set[int]) -> None:
    """Overwrite the data of every row group but ``keep`` (each column chunk's pages) with zeros."""
    meta = pq.ParquetFile(path).metadata
    with path.open("r+b") as fh:
        for g in range(meta.num_row_groups):
            if g in keep:
                continue
            for c in range(meta.num_columns):
                chunk = meta.row_group(g).column(c)
                start = min(o for o in (chunk.dictionary_page_offset, chunk.data_page_offset) if o is not None and o > 0)
                fh.seek(start)
                fh.write(b"\0" * chunk.total_compressed_size)


def test_a_chunk_read_decodes_only_its_row_groups(part: tuple[pl.DataFrame, Path]) -> None:
    rated, path = part
    from fairtel.engines._buckets import scan_numbers

    lo, hi = NUMBERS[12], NUMBERS[15]
    found = groups(path)
    touched = {g for g, (_, a, b) in enumerate(found) if not (b < lo or a > hi)}
    assert 0 < len(touched) <= len(found) // 3
    unreadable(path, touched)
    with pytest.raises(Exception):  # noqa: B017 - the others cannot be decoded
        pl.read_parquet(path)
    chunk = scan_numbers([path], lo, hi).collect(engine="streaming")
    expected = rated.cast(RATED_COLUMNS).filter(pl.col("msisdn").is_between(pl.lit(lo), pl.lit(hi)))  # type: ignore[arg-type]
    assert chunk.height == expected.height > 0
    assert_frame_equal(chunk, expected)


def test_chunks_read_one_after_another_give_every_line_once(part: tuple[pl.DataFrame, Path], tmp_path: Path) -> None:
    rated, path = part
    from fairtel.engines._buckets import scan_numbers

    other = tmp_path / "part-00001.parquet"
    write_part(rated.filter(pl.col("msisdn") >= NUMBERS[30]), other)
    chunks = [NUMBERS[i:i + 7] for i in range(0, len(NUMBERS), 7)]
    read = pl.concat([scan_numbers([path, other], c[0], c[-1]).collect(engine="streaming") for c in chunks])
    whole = pl.read_parquet([path, other])
    assert read.height == whole.height
    assert_frame_equal(read.sort(pl.all()), whole.sort(pl.all()))
