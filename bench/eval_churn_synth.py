"""Churn early warning on a synthetic operator: time-based validation and the injected churners found.

Synthesises an operator (default 20,000 subscribers × 90 days, seed 7) unless ``FAIRTEL_EVAL_SYNTH_DIR``
names one already written, reads its canonical Parquet usage, subscribers, complaints and consent, and runs
``fairtel.insight.churn_early_warning`` with its defaults (observation 28 days, lead 14, label 14, churned =
activity below half the observed). Prints:

- the validation figures: the model trained on the earlier cut(s), scored on the latest labelled cut, with
  F1, precision and recall at its threshold (chosen by ``--threshold``, ``THRESHOLD_RULES``);
- the final model's own out-of-fold figures on its training rows (inner folds keep each subscriber's cuts on
  one side);
- how the usage-based label agrees with truth/churners.jsonl at the validation cut;
- the share of injected churners among the top decile of the final scores (and their ROC-AUC against truth).

    .venv/bin/python bench/eval_churn_synth.py [SUBSCRIBERS] [DAYS] [--threshold recent_cut|out_of_fold]
"""

from __future__ import annotations

import argparse
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
from fairtel.insight._churn_warning import THRESHOLD_RULES
from fairtel.synth import synthesize


def main() -> int:
    ap = argparse.ArgumentParser(description="Churn early warning on a synthetic operator (FAIRTEL_EVAL_SYNTH_DIR: "
                                 "an operator directory already synthesised, used instead).")
    ap.add_argument("subscribers", nargs="?", type=int, default=20_000)
    ap.add_argument("days", nargs="?", type=int, default=90)
    ap.add_argument("--threshold", choices=THRESHOLD_RULES, default=THRESHOLD_RULES[0],
                    help="how the threshold of `flagged` is chosen")
    args = ap.parse_args()
    n, days = args.subscribers, args.days
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
    warning = churn_early_warning(data, threshold=args.threshold)
    print(f"warning trained, validated and scored in {time.perf_counter() - t:.0f} s")
    v = warning.validation
    c = warning.counts
    print(f"cuts: train {[x.isoformat() for x in warning.cuts.train]}, validation {warning.cuts.validation}, "
          f"scoring {warning.cuts.scoring}")
    print(f"training rows {c['rows_train']} ({c['positives_train']} churned); validation rows {c['rows_validation']} "
          f"({c['positives_validation']} churned)")
    print(f"time-based validation: ROC-AUC {v.roc_auc:.4f}  PR-AUC {v.pr_auc:.4f}  top-decile lift {v.top_decile_lift:.2f}")
    rule = c["threshold"]
    oof = warning.model.meta["out_of_fold"]
    grouped = warning.model.meta.get("fold_groups")
    print(f"final model's inner out-of-fold figures ({'folds grouped by ' + grouped['column'] if grouped else 'rows split'}): "
          f"ROC-AUC {oof['roc_auc']:.4f}  PR-AUC {oof['pr_auc']:.4f}  F1 {oof['f1']:.4f}")
    print(f"threshold ({rule['rule']}; validated with: {rule.get('validated', 'the out-of-fold threshold')}): at the "
          f"validation cut threshold {v.threshold:.4f}, F1 {v.f1:.4f}, precision {v.precision:.4f}, recall {v.recall:.4f}; "
          f"scoring threshold {rule['threshold']:.4f}" + (f", flag share {rule['share']:.2%}" if "share" in rule else ""))

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
    flagged = scores.filter(pl.col("flagged"))
    hit = int(flagged["truth"].sum())
    print(f"flagged at the scoring cut: {flagged.height} ({flagged.height / max(1, scores.height):.1%}), of which {hit} "
          f"injected churners: precision {hit / max(1, flagged.height):.4f}, recall {hit / max(1, injected):.4f} "
          f"against truth")
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
