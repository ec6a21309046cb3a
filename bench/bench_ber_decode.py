"""3GPP BER reader speed: records per second for a file of PGW records (three service-data containers each),
read through the lean decoder and through pycrate's complete decoder, in the same run.

    python bench/bench_ber_decode.py            # 20,000 records (FAIRTEL_BENCH_RECORDS to change)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from fairtel.mediation.readers._ber import GprsBerReader


def ts(text: str) -> bytes:
    return bytes.fromhex(text[:12]) + text[12].encode() + bytes.fromhex(text[13:17])


def tbcd(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def encode_records(distinct: int) -> list[bytes]:
    from pycrate_asn1dir import CDR

    spec: Any = CDR.GPRSChargingDataTypes.GPRSRecord
    out = []
    for i in range(distinct):
        opening = ts(f"2603{1 + i % 28:02d}10{i % 60:02d}00+0800")
        rec = {
            "recordType": 85, "servedIMSI": tbcd(f"46000{i:010d}"),
            "p-GWAddress": ("iPBinaryAddress", ("iPBinV4Address", bytes([10, 0, i // 256 % 256, i % 256]))),
            "chargingID": 100000 + i,
            "servingNodeAddress": [("iPBinaryAddress", ("iPBinV4Address", b"\x0a\x00\x00\x02"))],
            "accessPointNameNI": "cmnet", "recordOpeningTime": opening, "duration": 600 + i,
            "causeForRecClosing": 16 if i % 3 else 0, "recordSequenceNumber": 1 + i % 5,
            "servedMSISDN": b"\x91" + tbcd(f"86138{i:08d}"), "chargingCharacteristics": b"\x08\x00",
            "listOfServiceData": [
                {"ratingGroup": 10 + k, "localSequenceNumber": k + 1, "serviceConditionChange": (0, 32),
                 "datavolumeFBCUplink": 1000 * (i + k), "datavolumeFBCDownlink": 10000 * (i + k),
                 "timeOfReport": opening} for k in range(3)],
            "servingNodeType": ["gTPSGW"],
        }
        spec.set_val(("pGWRecord", rec))
        out.append(bytes(spec.to_ber()))
    return out


def measure(reader: GprsBerReader, path: Path) -> tuple[int, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    rows = 0
    for batch in reader.read(path, source="bench", batch_size=10_000):
        rows += batch.table.num_rows
        assert not batch.rejects
    return rows, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    # no options (the environment variables in the docstring set the sizes): --help prints the docstring
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    total = int(os.environ.get("FAIRTEL_BENCH_RECORDS", "20000"))
    distinct = min(total, 500)
    records = encode_records(distinct)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pgw.ber"
        with path.open("wb") as f:
            for i in range(total):
                f.write(records[i % distinct])
        size = path.stat().st_size
        print(f"file: {total:,} PGW records, {size / 1e6:.1f} MB, {size / total:.0f} bytes per record")
        # the machines are shared: CPU time says what one core does, wall time what this run saw
        for name in ("lean", "pycrate"):
            rows, wall, cpu = measure(GprsBerReader(decoder=name), path)
            print(f"{name:8s} {rows:>8,} records: wall {wall:6.2f} s = {rows / wall:>9,.0f} records/s; "
                  f"cpu {cpu:6.2f} s = {rows / cpu:>9,.0f} records/s per core")


if __name__ == "__main__":
    main()
