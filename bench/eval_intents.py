"""Intent engine figures on public data and on the built-in telecom held-out set.

    python bench/eval_intents.py                 # everything
    python bench/eval_intents.py banking77       # one of: banking77 clinc150 telecom
    python bench/eval_intents.py --save DIR      # also keep each trained model (DIR/banking77.joblib, ...)

- BANKING77 (../shared/data/intents/banking77): train on train.csv, accuracy and macro F1 on test.csv.
  References: fine-tuned BERT-Large 93.7%, TF-IDF + linear about 91.5%.
- CLINC150 full (../shared/data/intents/clinc150): train on train + oos_train (the engine picks its
  rejection threshold on its own cross-validation of that data), measured on test + oos_test. Also the
  variant that trains on train + val (+ their oos). References: BERT 96.2% in scope / 52.3% oos recall,
  Rasa 91.5% / 45.3%.
- Telecom built-in data: train on care/data/telecom_intents_train.jsonl, held-out test per language.

Latency is per single message (one predict call each) on this machine, p50 and p95 in milliseconds; for
repeated timings of a saved model, see bench/latency_intents.py.
The figures depend on whether the `embeddings` extra is installed (sentence embeddings); each line says
which sentence encoder the model used (`null`: word and character n-grams only).
Every model here is trained (``ready_made=False``): the ready-made built-in model that ``make install`` builds
is never used, so the training times are real.
CLINC150's validation split is for choosing settings (the rejection target, the weight of the embedding
classifier); the test split is measured, never tuned on.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

from fairtel.care import (
    BUILTIN_OOS_LABEL,
    Example,
    IntentModel,
    builtin_examples,
    evaluate_intents,
    train_intents,
)

DATA = Path(os.environ.get("FAIRTEL_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data" / "intents"


SAVE: Path | None = None  # --save DIR: where the trained models go (for bench/latency_intents.py)


def _show(name: str, report: dict[str, object], seconds: float, model: IntentModel, file: str) -> None:
    report["sentence_encoder"] = model.metadata.get("sentence_encoder")
    print(f"{name}: " + json.dumps(report, ensure_ascii=False) + f"  (train {seconds:.1f} s)", flush=True)
    if SAVE is not None:
        print(f"  model saved to {model.save(SAVE / file)}", flush=True)


def banking77() -> None:
    def read(p: Path) -> list[Example]:
        with p.open(encoding="utf-8") as fh:
            return [Example(r["text"], r["category"]) for r in csv.DictReader(fh)]

    train, test = read(DATA / "banking77" / "train.csv"), read(DATA / "banking77" / "test.csv")
    t0 = time.perf_counter()
    model = train_intents(train, ready_made=False)
    secs = time.perf_counter() - t0
    _show("banking77 test", evaluate_intents(model, test).to_dict(), secs, model, "banking77.joblib")
    print("  reference: BERT-Large 0.937, TF-IDF+linear ~0.915", flush=True)


def clinc150() -> None:
    d = json.loads((DATA / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

    def ex(*splits: str) -> list[Example]:
        return [Example(t, lab) for s in splits for t, lab in d[s]]

    test = ex("test", "oos_test")
    for name, splits in (("train", ("train", "oos_train")), ("train+val", ("train", "oos_train", "val", "oos_val"))):
        t0 = time.perf_counter()
        model = train_intents(ex(*splits), oos_label="oos", ready_made=False)
        secs = time.perf_counter() - t0
        report = evaluate_intents(model, test).to_dict()
        report.pop("per_language", None)
        report["threshold"] = round(model.threshold, 4)
        _show(f"clinc150 test (trained on {name})", report, secs, model, f"clinc150-{name.replace('+', '-')}.joblib")
    print("  reference: BERT 0.962 in scope / 0.523 oos recall; Rasa 0.915 / 0.453", flush=True)


def telecom() -> None:
    t0 = time.perf_counter()
    model = train_intents(builtin_examples("train"), oos_label=BUILTIN_OOS_LABEL, ready_made=False)
    secs = time.perf_counter() - t0
    _show("telecom held-out", evaluate_intents(model, builtin_examples("test")).to_dict(), secs, model, "telecom.joblib")


def main(argv: list[str]) -> int:
    global SAVE
    if "--save" in argv:
        i = argv.index("--save")
        if i + 1 >= len(argv):
            print("--save needs a directory", file=sys.stderr)
            return 2
        SAVE = Path(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    runs = {"telecom": telecom, "banking77": banking77, "clinc150": clinc150}
    if {"-h", "--help"} & set(argv):
        print(__doc__)
        return 0
    unknown = [a for a in argv if a not in runs]
    if unknown:  # a typo ran every evaluation (minutes of training) instead of saying so
        print(f"unknown argument(s): {' '.join(unknown)}; give any of {', '.join(runs)} or --save DIR", file=sys.stderr)
        return 2
    chosen = [a for a in argv if a in runs] or list(runs)
    if any(c != "telecom" for c in chosen) and not DATA.is_dir():
        print(f"shared data not found at {DATA}; only the telecom figures are measured")
        chosen = ["telecom"]
    for c in chosen:
        runs[c]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
