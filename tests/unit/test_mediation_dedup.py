"""Dedup on (source, record_id): stable hashes, within a batch, across batches, spills, files and runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import _ingest, _keys, _output, ingest_files, key_hashes
from fairtel.mediation._keys import KeyIndex, merge_segments
from fairtel.mediation._state import MediationState

HEADER = "record_id,source,msisdn,kind,direction,started_at,duration_s,peer\n"


def row(rid: str, source: str = "sw1", day: int = 1) -> str:
    return f"{rid},{source},8613800138000,voice,out,2026-11-{day:02d}T08:00:00+08:00,60,8613900139000\n"


def hashes(ids: list[str], source: str = "s") -> tuple[np.ndarray, np.ndarray]:
    return key_hashes(pa.array([source] * len(ids)), pa.array(ids))


def test_hash_depends_only_on_the_key() -> None:
    alone = hashes(["abc"])
    mixed = hashes(["abcdefghijklmnopqrstu", "abc", "é-unicode"])  # other widths and non-ASCII in the batch
    assert alone[0][0] == mixed[0][1] and alone[1][0] == mixed[1][1]
    assert hashes(["abc"], "other")[0][0] != alone[0][0]
    a, _b = hashes(["a", "a\x00"])
    assert a[0] != a[1]
    # a frozen value: the same key must hash the same in every release (the index is on disk)
    h1, h2 = hashes(["r000000000001"], "sw1")
    assert (int(h1[0]), int(h2[0])) == (17531146601321371559, 16686124731855896621)


def test_no_collisions_on_a_million_sequential_ids() -> None:
    h1, _h2 = hashes([f"r{i:012d}" for i in range(1_000_000)])
    assert len(np.unique(h1)) == 1_000_000


def test_within_batch_first_occurrence_wins(tmp_path: Path) -> None:
    k = KeyIndex(tmp_path, [], durable=False)
    k.begin("f")
    h1, h2 = hashes(["x", "y", "x", "z", "y", "x"])
    assert k.seen(h1, h2).tolist() == [False, False, True, False, True, True]
    h1, h2 = hashes(["z", "w"])
    assert k.seen(h1, h2).tolist() == [True, False]


def test_spills_and_merges_keep_every_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_keys, "SPILL_KEYS", 1000)
    k = KeyIndex(tmp_path, [], durable=False)
    k.begin("f")
    for b in range(7):
        h1, h2 = hashes([f"id{i}" for i in range(b * 700, (b + 1) * 700)])
        assert not k.seen(h1, h2).any()
    segs = k.finish()
    assert sum(n for _, n in segs) == 4900
    k.adopt()
    h1, h2 = hashes([f"id{i}" for i in range(4890, 4910)])
    assert k.seen(h1, h2).tolist() == [True] * 10 + [False] * 10
    merged = tmp_path / "m.npy"
    total = merge_segments([tmp_path / n for n, _ in segs], merged, durable=False)
    arr = np.load(merged)
    assert total == 4900 and (np.diff(arr[0].astype(np.float64)) >= 0).all()


def settings(home: Path) -> Settings:
    return Settings(home=home, batch_size=1000)


def test_duplicates_across_files_and_runs(tmp_path: Path) -> None:
    s = settings(tmp_path / "home")
    a = tmp_path / "a.csv"
    a.write_text(HEADER + row("1") + row("2") + row("1") + row("2", source="sw2"))
    b = tmp_path / "b.csv"
    b.write_text(HEADER + row("2") + row("3"))
    ra = ingest_files([a], settings=s)[0]
    assert (ra.read, ra.accepted, ra.duplicate) == (4, 3, 1)
    rb = ingest_files([b], settings=s)[0]  # another run, another process state
    assert (rb.read, rb.accepted, rb.duplicate) == (2, 1, 1)
    again = ingest_files([a], settings=s)[0]
    assert again.status == "already_ingested" and "nothing to do" in again.message
    c = tmp_path / "c.parquet"
    pq.write_table(pa.table({"record_id": ["3", "4"], "source": ["sw1", "sw1"], "msisdn": ["1"] * 2,
                             "kind": ["sms"] * 2, "direction": ["in"] * 2,
                             "started_at": ["2026-11-01T08:00:00Z"] * 2}), c)
    rc = ingest_files([c], settings=s)[0]
    assert (rc.accepted, rc.duplicate) == (1, 1)  # the key, not the format, decides


def test_rejected_records_do_not_claim_their_key(tmp_path: Path) -> None:
    s = settings(tmp_path / "home")
    a = tmp_path / "a.csv"
    a.write_text(HEADER + "1,sw1,8613800138000,voice,out,not-a-time,60,1\n")
    b = tmp_path / "b.csv"
    b.write_text(HEADER + row("1"))
    assert ingest_files([a], settings=s)[0].rejected == 1
    assert ingest_files([b], settings=s)[0].accepted == 1


def test_compaction_merges_segments_of_one_size(tmp_path: Path) -> None:
    s = settings(tmp_path / "home")
    files = []
    for f in range(5):
        p = tmp_path / f"f{f}.csv"
        p.write_text(HEADER + "".join(row(f"{f}-{i}") for i in range(50)))
        files.append(p)
    reports = ingest_files(files, settings=s)
    assert all(r.accepted == 50 for r in reports)
    segs = sorted((s.home / "mediation" / "keys").glob("*.npy"))
    assert len(segs) < 5  # merged like a binary counter
    dup = tmp_path / "dup.csv"
    dup.write_text(HEADER + "".join(row(f"{f}-7") for f in range(5)) + row("new"))
    r = ingest_files([dup], settings=s)[0]
    assert (r.duplicate, r.accepted) == (5, 1)



def test_a_merge_in_flight_leaves_every_key_findable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The merge a commit starts runs beside the next file: until it is applied, that file's records are checked
    against its inputs, so no duplicate slips through; when the session ends the merge is applied (registered,
    its inputs gone, nothing unregistered left)."""
    started, finished = threading.Event(), threading.Event()
    seen_during: list[bool] = []
    real_merge, real_seen = _keys.merge_segments, KeyIndex.seen

    def slow_merge(paths: list[Path], out: Path, *, durable: bool) -> int:
        started.set()
        time.sleep(0.5)  # the next file is read and checked meanwhile
        n = real_merge(paths, out, durable=durable)
        finished.set()
        return n

    def watching_seen(self: KeyIndex, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        seen_during.append(started.is_set() and not finished.is_set())
        return real_seen(self, h1, h2)

    monkeypatch.setattr(_keys, "merge_segments", slow_merge)
    monkeypatch.setattr(KeyIndex, "seen", watching_seen)
    s = settings(tmp_path / "home")
    a, b, c = (tmp_path / f"{n}.csv" for n in "abc")
    a.write_text(HEADER + "".join(row(f"a{i}") for i in range(40)))
    b.write_text(HEADER + "".join(row(f"b{i}") for i in range(40)))
    c.write_text(HEADER + "".join(row(f"{x}{i}") for x in "abc" for i in range(0, 40, 2)))  # half of a and b, new c
    reports = ingest_files([a, b, c], settings=s)
    assert [(r.accepted, r.duplicate) for r in reports] == [(40, 0), (40, 0), (20, 40)]
    assert any(seen_during)  # c was deduplicated while the merge of a's and b's keys ran
    keys_dir = s.home / "mediation" / "keys"
    with MediationState.open(s.home) as st:
        registered = st.segments()
        assert st.stats()["keys"] == 100
    assert sorted(p.name for p in keys_dir.iterdir()) == sorted(registered) and any(n.startswith("m-") for n in registered)
    assert ingest_files([c.rename(tmp_path / "c2.csv")], settings=s)[0].status == "already_ingested"


def _home_state(home: Path) -> tuple[list[tuple[object, ...]], dict[str, str], list[tuple[object, ...]], list[str], int]:
    """Lake rows, rejects files by name, registry rows (less the time), temporary files, keys indexed."""
    parts = sorted((home / "lake" / "usage").glob("period=*/*.parquet"))
    rows = sorted(tuple(r.values()) for p in parts for r in pq.read_table(p).to_pylist())
    rejects = {p.name: p.read_text() for p in sorted((home / "rejects").glob("*.jsonl"))}
    with MediationState.open(home) as st:
        registry = [tuple(r) for r in st.conn.execute(
            "SELECT content_hash, name, read, accepted, rejected, duplicate, emitted, rejects_file, parts"
            " FROM files ORDER BY seq")]
        keys = int(st.stats()["keys"])
    temps = sorted(str(p.relative_to(home)) for p in home.rglob("*.tmp"))
    return rows, rejects, registry, temps, keys


def test_records_processed_before_the_content_hash_is_known_land_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The content hash is computed beside the reading: batches read, rejected, deduplicated, written to
    temporary parts and spilled to key segments before it is known must give what they give when it is
    known first; a file found already ingested once it is known leaves nothing behind."""
    monkeypatch.setattr(_keys, "SPILL_KEYS", 7000)  # the first spill comes in the third batch (~3 400 rows each)
    monkeypatch.setattr(_output, "ROW_GROUP_ROWS", 500)  # parts open (under temporary names) early
    lines = []
    for i in range(12_000):
        if i % 997 == 5:
            lines.append(f"{i},sw1,8613800138000,voice,out,not-a-time,60,1\n")
        else:
            lines.append(row(str(i % 9_000), day=1 + i % 28))
    src = tmp_path / "in.csv"
    src.write_text(HEADER + "".join(lines))
    reference = ingest_files([src], settings=settings(tmp_path / "reference"))[0]
    assert reference.read == 12_000 and reference.duplicate > 0 and reference.rejected > 0

    real_hash = _ingest.content_hash
    seen_calls = 0
    release = threading.Event()

    def late_hash(path: Path) -> str:
        assert release.wait(60), "the ingest waited for the hash before the third batch"
        return real_hash(path)

    real_seen = _keys.KeyIndex.seen

    def seen(self: KeyIndex, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        nonlocal seen_calls
        seen_calls += 1
        if seen_calls == 3:  # two batches (and their rejects and parts) go through without the hash
            release.set()
        return real_seen(self, h1, h2)

    monkeypatch.setattr(_ingest, "content_hash", late_hash)
    monkeypatch.setattr(_keys.KeyIndex, "seen", seen)
    late_home = tmp_path / "late"
    late = ingest_files([src], settings=settings(late_home))[0]
    assert seen_calls > 3
    assert (late.status, late.read, late.accepted, late.rejected, late.duplicate) == (
        reference.status, reference.read, reference.accepted, reference.rejected, reference.duplicate)
    assert late.content_hash == reference.content_hash
    want, got = _home_state(tmp_path / "reference"), _home_state(late_home)
    assert got[0] == want[0] and got[1] == want[1] and got[3] == [] and got[4] == want[4]
    assert [r[0] for r in got[2]] == [r[0] for r in want[2]]
    assert [r[2:7] for r in got[2]] == [r[2:7] for r in want[2]]
    assert [Path(str(r[7])).name for r in got[2]] == [Path(str(r[7])).name for r in want[2]]

    seen_calls = 0
    release.clear()
    again = ingest_files([src], settings=settings(late_home))[0]
    assert again.status == "already_ingested" and again.content_hash == reference.content_hash
    assert _home_state(late_home) == got  # nothing added, nothing left behind, no segment touched


def test_a_file_that_fails_to_read_is_reported_with_its_hash_and_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("record_id,kind,started_at\n1,voice,2026-11-01T08:00:00+08:00\n")  # no msisdn column
    home = tmp_path / "home"
    r = ingest_files([bad], settings=settings(home), fmt="csv")[0]
    assert r.status == "failed" and "msisdn" in r.message
    assert r.content_hash == _ingest.content_hash(bad)
    assert not list(home.rglob("*.tmp")) and not list((home / "lake").rglob("*.parquet"))
