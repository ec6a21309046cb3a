"""Churn early warning on a synthetic operator: time-based validation and the injected churners found.

Synthesises an operator (default 20,000 subscribers × 90 days, seed 7) unless ``FAIRTEL_EVAL_SYNTH_DIR``
names one already written, reads its canonical Parquet usage, subscribers, complaints and consent, and runs
``fairtel.insight.churn_early_warning`` with its defaults (observation 28 days, lead 14, label 14, churned =
activity below half the observed). Prints:

- the validation figures: the model trained on the earlier cut(s), scored on the latest labelled cut;
- how the usage-based label agrees with truth/churners.jsonl at the validation cut;
- the share of injected churners among the top decile of the final scores (and their ROC-AUC against truth).

    .venv/bin/python bench/eval_churn_synth.py [SUBSCRIBERS] [DAYS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from fairtel.catalog import load_catalog
from fairtel.insight import ChurnData, ChurnWindow, activity, churn_early_warning, churn_labels, read_operator_dir
from fairtel.synth import synthesize


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 90
    given = os.environ.get("FAIRTEL_EVAL_SYNTH_DIR")
    tmp = None
    if given:
        out = Path(given)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="fairtel-churn-")
        out = Path(tmp.name) / "op"
        t = time.perf_counter()
        synthesize(out, subscribers=n, days=days, seed=7)
        print(f"synthesised {n} subscribers × {days} days in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    parts = read_operator_dir(out)
    catalog = load_catalog(out / "catalog.toml")
    data = ChurnData(parts["usage"], parts["subscribers"], catalog, complaints=parts["complaints"],  # type: ignore[arg-type]
                     consent=parts["consent"])  # type: ignore[arg-type]
    warning = churn_early_warning(data)
    print(f"warning trained, validated and scored in {time.perf_counter() - t:.0f} s")
    v = warning.validation
    c = warning.counts
    print(f"cuts: train {[x.isoformat() for x in warning.cuts.train]}, validation {warning.cuts.validation}, "
          f"scoring {warning.cuts.scoring}")
    print(f"training rows {c['rows_train']} ({c['positives_train']} churned); validation rows {c['rows_validation']} "
          f"({c['positives_validation']} churned)")
    print(f"time-based validation: ROC-AUC {v.roc_auc:.4f}  PR-AUC {v.pr_auc:.4f}  top-decile lift {v.top_decile_lift:.2f}")

    truth = pl.read_ndjson(out / "truth" / "churners.jsonl").select("msisdn").with_columns(pl.lit(1).alias("truth"))
    window = ChurnWindow()
    dn = data.normalised()
    labels = churn_labels(activity(dn.usage, catalog.operator.timezone), dn.subscribers, warning.cuts.validation, window)
    lab = labels.join(truth, on="msisdn", how="left").with_columns(pl.col("truth").fill_null(0))
    both = lab.filter((pl.col("churned") == 1) & (pl.col("truth") == 1)).height
    print(f"label at the validation cut: {int(lab['churned'].sum())} churned, of which {both} injected churners "
          f"(injected churners eligible: {int(lab['truth'].sum())})")

    scores = warning.scores.join(truth, on="msisdn", how="left").with_columns(pl.col("truth").fill_null(0))
    k = max(1, scores.height // 10)
    top = scores.sort("probability", descending=True).head(k)
    injected = int(scores["truth"].sum())
    found = int(top["truth"].sum())
    auc = roc_auc_score(scores["truth"].to_numpy(), scores["probability"].to_numpy())
    print(f"scoring cut: {scores.height} subscribers scored; injected churners {injected}; in the top decile ({k}): "
          f"{found} = {found / max(1, injected):.1%} of them; ROC-AUC against truth {auc:.4f}")
    ranked = warning.retention_list(10)
    print("top of the retention list:")
    for r in ranked.iter_rows(named=True):
        print(f"  {r['rank']:>2} {r['msisdn']} p={r['probability']:.2f} EV={r['expected_value_minor'] / 100:.2f} "
              f"{r['reason_1_en']}; {r['reason_2_en']}; {r['reason_3_en']}")
    if tmp:
        tmp.cleanup()
    return 0 if np.isfinite(v.roc_auc) else 1


if __name__ == "__main__":
    sys.exit(main())
