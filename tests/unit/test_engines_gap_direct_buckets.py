"""A period of a few buckets is rated without a split: each bucket reads the usage parts itself and keeps its own
rows. It gets exactly the rows, in the same order, that the split's pieces give it, and the rated lines and
unrated records are the ones a split period gives. Worker processes start with their allocator told to keep
freed pages for reuse, unless the user set it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import fairtel.engines._buckets as buckets_module
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.settings import load_settings
from fairtel.engines import LocalEngine
from fairtel.engines._buckets import (
    MALLOC_CONF_VAR,
    WORKER_MALLOC_CONF,
    _pool,
    read_bucket,
    read_parts,
    split_file,
)
from fairtel.engines._kernels import RATING_USAGE_COLUMNS

CATALOG = load_catalog(default_catalog_path())
START_US = int(datetime(2026, 2, 28, 16, tzinfo=UTC).timestamp()) * 1_000_000
PEERS = ("8613912345678", "85261234567", "12025550100", "0000", None)
COUNTRIES = (None, None, None, "HK", "ZZ")


def usage(seed: int, n: int, numbers: list[str]) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["voice", "sms", "data", "vas", "fax"], size=n)
    talk = np.isin(kinds, ["voice", "sms"])
    return pl.DataFrame({
        "record_id": [f"r{seed}-{i}" for i in range(n)],
        "source": rng.choice(["msc-1", "pgw-1"], size=n),
        "msisdn": rng.choice(numbers, size=n),
        "kind": kinds,
        "direction": [("out" if o else "in") if t else None for o, t in zip(rng.random(n) < 0.6, talk, strict=True)],
        "started_at": pl.Series(START_US + rng.integers(0, 31 * 86400 - 1, size=n) * 1_000_000)
        .cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "duration_s": [int(d) if k == "voice" else None for d, k in zip(rng.integers(0, 900, size=n), kinds, strict=True)],
        "bytes_up": [int(b) if k == "data" else None for b, k in zip(rng.integers(0, 10**6, size=n), kinds, strict=True)],
        "bytes_down": [int(b) if k == "data" else None for b, k in zip(rng.integers(0, 10**8, size=n), kinds, strict=True)],
        "peer": [PEERS[i] if t else None for i, t in zip(rng.integers(0, len(PEERS), size=n), talk, strict=True)],
        "offer_id": ["vas-music-10" if k == "vas" else None for k in kinds],
        "amount_minor": [1000 if k == "vas" else None for k in kinds],
        "currency": ["CNY" if k == "vas" else None for k in kinds],
        "roaming_country": [COUNTRIES[i] for i in rng.integers(0, len(COUNTRIES), size=n)],
    })


def write_parts(directory: Path, numbers: list[str]) -> list[Path]:
    """Three parts, one written before ``roaming_country`` existed, and an empty one."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(4):
        part = usage(i, 0 if i == 3 else 1000, numbers)
        if i == 1:
            part = part.drop("roaming_country")
        files.append(directory / f"part-{i:05d}.parquet")
        part.write_parquet(files[-1])
    return files


@pytest.mark.parametrize("buckets", [1, 2, 3])
def test_a_bucket_read_from_the_parts_has_the_rows_of_its_split_pieces_in_their_order(tmp_path: Path, buckets: int) -> None:
    files = write_parts(tmp_path / "usage", [str(8613800000000 + k) for k in range(40)])
    spill = tmp_path / "spill"
    pieces: list[list[Path]] = [[] for _ in range(buckets)]
    for i, f in enumerate(files):
        for b, piece in split_file(f, i, buckets, RATING_USAGE_COLUMNS, spill):
            pieces[b].append(piece)
    for b in range(buckets):
        direct = read_parts(files, b, buckets, RATING_USAGE_COLUMNS)
        assert direct.height > 0
        assert_frame_equal(direct, read_bucket(pieces[b], RATING_USAGE_COLUMNS))  # same order, same types
    assert all(f.exists() for f in files)  # the usage parts are read, never removed


@pytest.mark.parametrize("workers", [1, 2])
def test_a_period_of_few_buckets_is_rated_as_a_split_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         workers: int) -> None:
    numbers = [str(8613800000000 + k) for k in range(60)]
    subs = pl.DataFrame({"msisdn": numbers[:55], "plan_id": [("basic-39", "payg", "unlimited-129")[k % 3] for k in range(55)]})
    results = {}
    for mode, direct_buckets in (("split", 0), ("direct", buckets_module.DIRECT_BUCKETS)):
        home = tmp_path / mode
        write_parts(home / "lake" / "usage" / "period=2026-03", numbers)
        monkeypatch.setattr(buckets_module, "DIRECT_BUCKETS", direct_buckets)
        summary = LocalEngine(workers=workers, parallel_from=0).rate_period(
            load_settings(home=home, batch_size=1000), "2026-03", catalog=CATALOG, subscribers=subs)
        assert summary.groups == 3
        assert not list((home / "lake" / "rated").glob(".*spill"))
        results[mode] = (summary.lines, summary.unrated, summary.by_kind, summary.unrated_by_reason, {
            ds: {p.name: pl.read_parquet(p) for p in sorted((home / "lake" / ds / "period=2026-03").glob("part-*.parquet"))}
            for ds in ("rated", "unrated")
        })
    split, direct = results["split"], results["direct"]
    assert direct[:4] == split[:4]
    assert direct[0] > 0 and direct[1] > 0
    for ds in ("rated", "unrated"):
        assert direct[4][ds].keys() == split[4][ds].keys()
        for name, frame in split[4][ds].items():
            assert_frame_equal(direct[4][ds][name], frame)


def _allocator_setting() -> str | None:
    return os.environ.get(MALLOC_CONF_VAR)


def test_workers_keep_freed_pages_unless_the_user_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    for before in (None, "dirty_decay_ms:500,muzzy_decay_ms:1000"):  # unset, or as Polars sets it when imported
        if before is None:
            monkeypatch.delenv(MALLOC_CONF_VAR, raising=False)
        else:
            monkeypatch.setenv(MALLOC_CONF_VAR, before)
        with _pool(1, None) as pool:
            # Polars puts its own setting first in the worker; the last one wins
            assert pool.submit(_allocator_setting).result().endswith("," + WORKER_MALLOC_CONF)  # type: ignore[union-attr]
        assert os.environ.get(MALLOC_CONF_VAR) == before  # this process's environment is left as it was
    monkeypatch.setenv(MALLOC_CONF_VAR, "dirty_decay_ms:0")
    with _pool(1, None) as pool:
        assert WORKER_MALLOC_CONF not in pool.submit(_allocator_setting).result()  # type: ignore[operator]
    assert os.environ[MALLOC_CONF_VAR] == "dirty_decay_ms:0"
