"""Churn model on IBM Telco Customer Churn (../shared/data/churn/ibm_telco): held-out split and repeated CV.

The engine is used exactly as `fairtel churn train|evaluate|cv` use it: no preparation by hand, no
dataset-specific settings. Figures: a stratified 80/20 held-out split (seed 0, and the spread over seeds 1-4
for context) and repeated stratified 5-fold CV (mean ± sd).

    .venv/bin/python bench/eval_churn_ibm.py        # FAIRTEL_EVAL_REPEATS=3 by default
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from fairtel.insight import train_churn_model
from fairtel.learn import cross_validate, infer_spec, read_table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "churn" / "ibm_telco" / "Telco-Customer-Churn.csv"
LABEL, ID = "Churn", "customerID"
SHOWN = ("roc_auc", "pr_auc", "top_decile_lift", "f1", "precision", "recall")


def held_out(frame, seed: int):  # type: ignore[no-untyped-def]
    y = infer_spec(frame, label=LABEL, id_column=ID).labels(frame)
    tr, te = train_test_split(np.arange(frame.height), test_size=0.2, stratify=y, random_state=seed)
    model = train_churn_model(frame[tr.tolist()], label=LABEL, id_column=ID)
    return model.evaluate(frame[te.tolist()])


def main() -> int:
    # no options (the environment variables in the docstring set the sizes): --help prints the docstring
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    if not DATA.is_file():
        print(f"data not found: {DATA}")
        return 1
    repeats = int(os.environ.get("FAIRTEL_EVAL_REPEATS", "3"))
    frame = read_table(DATA)
    print(f"IBM Telco: {frame.height} customers, {frame.width} columns")
    t0 = time.perf_counter()
    m = held_out(frame, 0)
    print(f"held-out 20% (stratified, seed 0, n={m.n}): " + ", ".join(f"{k} {getattr(m, k):.4f}" for k in SHOWN)
          + f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
    others = [held_out(frame, s) for s in range(1, 5)]
    aucs = [o.roc_auc for o in [m, *others]]
    print(f"held-out ROC-AUC over seeds 0-4: mean {np.mean(aucs):.4f} ± {np.std(aucs, ddof=1):.4f} "
          f"(min {min(aucs):.4f}, max {max(aucs):.4f})", flush=True)
    t0 = time.perf_counter()
    res = cross_validate(frame, label=LABEL, id_column=ID, folds=5, repeats=repeats, seed=0)
    s = res.summary
    print(f"{repeats}x5-fold stratified CV: " + ", ".join(f"{k} {s[k]}" for k in SHOWN)
          + f"  [{time.perf_counter() - t0:.0f} s]")
    print("reference: credible held-out ROC-AUC about 0.845; goal 0.85")
    return 0


if __name__ == "__main__":
    sys.exit(main())
